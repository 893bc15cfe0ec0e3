// Text helpers for the catalog: cleaning untrusted tag strings so they pass the domain's checks, and
// folding text for search.

// C0 and C1 control characters, DEL, and the byte-order mark (which leaks into badly written ID3
// tags). The domain refuses C0 and DEL; C1 and the BOM are invisible garbage in a display text.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\ufeff]/g;
// Whitespace controls become a space rather than vanishing, so "Side A\nSide B" stays two words.
const WHITESPACE_CONTROL_RE = /[\t\n\v\f\r\u0085]+/g;

/**
 * Makes an untrusted string (a tag, a file name) safe as a display text of at most `max` UTF-16 code
 * units: no lone surrogates, no control characters, runs of whitespace collapsed, trimmed, and cut
 * with an ellipsis when too long. Returns '' for anything that is not a string.
 */
export function cleanText(value: unknown, max: number): string {
  if (typeof value !== 'string') return '';
  const cleaned = value
    .toWellFormed()
    .replace(WHITESPACE_CONTROL_RE, ' ')
    .replace(CONTROL_RE, '')
    .replace(/\s+/g, ' ')
    .trim();
  return truncate(cleaned, max);
}

/** Cuts `text` to at most `max` code units, marking the cut with '…' and never splitting a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let cut = text.slice(0, max - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut.trimEnd() + '…';
}

// Letters that Unicode decomposition does not reduce to a base letter plus marks, but which a user
// typing on an ASCII keyboard writes as these: "Bjørn" is found by "bjorn", "Straße" by "strasse".
const FOLD: Readonly<Record<string, string>> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  đ: 'd',
  ð: 'd',
  þ: 'th',
  ł: 'l',
  ı: 'i',
  ħ: 'h',
};
const FOLD_RE = new RegExp(`[${Object.keys(FOLD).join('')}]`, 'g');

/**
 * Splits text into search words: compatibility-decomposed (so "ﬁ" is "fi" and full-width letters are
 * ASCII), diacritics removed, lower-cased, folded as above, apostrophes dropped inside words ("Don't"
 * is "dont"), and split on anything that is not a letter or a digit.
 */
export function searchWords(text: string): string[] {
  const folded = text
    // Before decomposition: NFKD turns the spacing acute '´' into a space plus a mark.
    .replace(/['’‘`´]/g, '')
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(FOLD_RE, (c) => FOLD[c] ?? c);
  return folded.split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
}
