import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanText, searchWords, truncate } from '../../../src/catalog/text.ts';
import { checkText } from '../../../src/domain/validate.ts';

void describe('cleanText', () => {
  void it('removes control characters and turns line breaks and tabs into single spaces', () => {
    assert.equal(cleanText('Side A\r\nSide\tB\u0007\u0000!', 100), 'Side A Side B!');
    assert.equal(cleanText('\ufeffBOM title\u0085end\u009b', 100), 'BOM title end');
  });

  void it('trims and collapses whitespace', () => {
    assert.equal(cleanText('   many    spaces  ', 100), 'many spaces');
  });

  void it('replaces lone surrogates and returns "" for non-strings', () => {
    assert.equal(cleanText('a\ud800b', 100), 'a\ufffdb');
    assert.equal(cleanText(undefined, 100), '');
    assert.equal(cleanText(42, 100), '');
  });

  void it('produces text the domain accepts, whatever the input', () => {
    const nasty = '\u0001'.repeat(10) + 'x'.repeat(500) + '\u001f\u007f';
    const out = cleanText(nasty, 300);
    assert.equal(checkText('title', out, 300), null);
    assert.equal(out.length, 300);
  });
});

void describe('truncate', () => {
  void it('leaves short text alone and marks a cut with an ellipsis within the limit', () => {
    assert.equal(truncate('short', 10), 'short');
    assert.equal(truncate('exactly10!', 10), 'exactly10!');
    assert.equal(truncate('abcdefghijk', 10), 'abcdefghi…');
  });

  void it('never splits a surrogate pair', () => {
    // '😀' is two code units; a naive cut at 4 would keep its first half.
    const out = truncate('abc😀def', 5);
    assert.equal(out, 'abc…');
    assert.equal(out.toWellFormed(), out);
  });
});

void describe('searchWords', () => {
  void it('lower-cases, strips diacritics and splits on punctuation', () => {
    assert.deepEqual(searchWords('Beyoncé — Crazy in Love (Remix)'), [
      'beyonce',
      'crazy',
      'in',
      'love',
      'remix',
    ]);
    assert.deepEqual(searchWords('Motörhead/AC-DC'), ['motorhead', 'ac', 'dc']);
  });

  void it('folds letters that decomposition leaves alone', () => {
    assert.deepEqual(searchWords('Bjørn Straße Łódź Æon'), ['bjorn', 'strasse', 'lodz', 'aeon']);
  });

  void it('keeps apostrophes inside words from splitting them', () => {
    assert.deepEqual(searchWords("Don't Stop — Rock ’n’ Roll"), ['dont', 'stop', 'rock', 'n', 'roll']);
  });

  void it('normalises compatibility forms and keeps non-Latin letters and digits', () => {
    assert.deepEqual(searchWords('ﬁne Ｔｏｋｙｏ 東京 2049'), ['fine', 'tokyo', '東京', '2049']);
  });

  void it('yields nothing for blank or punctuation-only text', () => {
    assert.deepEqual(searchWords('   '), []);
    assert.deepEqual(searchWords('!!! -- ...'), []);
  });
});
