import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCatalog } from '../../../src/catalog/catalog.ts';
import type { Track } from '../../../src/domain/types.ts';

function track(trackId: string, title: string, artist: string, album: string, genre?: string): Track {
  return { trackId, title, artist, album, durationMs: 200_000, ...(genre === undefined ? {} : { genre }) };
}

// Catalog order matters: several tests check that ranking, not position, decides.
const TRACKS: Track[] = [
  track('t01', 'Come Together', 'The Beatles', 'Abbey Road', 'Rock'),
  track('t02', 'Yellow Submarine', 'The Beatles', 'Revolver', 'Pop'),
  track('t03', 'Yesterday', 'The Beatles', 'Help!', 'Pop'),
  track('t04', 'Beat It', 'Michael Jackson', 'Thriller', 'Pop'),
  track('t05', 'Road Trip', 'Open Highway', 'Miles', 'Indie'),
  track('t06', 'Crazy in Love', 'Beyoncé', 'Dangerously in Love', 'R&B'),
  track('t07', 'Café del Mar', 'Energy 52', 'Cafe del Mar', 'Trance'),
  track('t08', "Don't Stop Me Now", 'Queen', 'Jazz', 'Rock'),
  track('t09', 'Ace of Spades', 'Motörhead', 'Ace of Spades', 'Heavy Metal'),
  track('t10', 'Jolene (Live)', 'Dolly Parton', 'Jolene', 'Country'),
  track('t11', 'Jolene', 'Dolly Parton', 'Jolene', 'Country'),
  track('t12', 'Take Me Home, Country Roads', 'John Denver', 'Poems, Prayers & Promises', 'Folk'),
  track('t13', 'Lovely Day', 'Bill Withers', 'Menagerie', 'Soul'),
  track('t14', 'Love Me Do', 'The Beatles', 'Please Please Me', 'Pop'),
];

const ids = (tracks: readonly Track[]): string[] => tracks.map((t) => t.trackId);

void describe('catalog search', () => {
  const catalog = createCatalog(TRACKS);

  void it('finds a track by prefixes of words from different fields ("beat yest")', () => {
    assert.deepEqual(ids(catalog.search('beat yest', 10)), ['t03']);
  });

  void it('requires every word to match', () => {
    assert.deepEqual(ids(catalog.search('beatles yellow', 10)), ['t02']);
    assert.deepEqual(ids(catalog.search('the beatles help', 10)), ['t03']);
    assert.deepEqual(ids(catalog.search('beatles zeppelin', 10)), []);
  });

  void it('returns nothing when no track matches, even with typos forgiven', () => {
    assert.deepEqual(catalog.search('zzzz', 10), []);
    assert.deepEqual(catalog.search('qwertyuiop', 10), []);
  });

  void it('forgives typos when nothing matches exactly, still requiring every word', () => {
    assert.deepEqual(ids(catalog.search('yesterdays', 10)), ['t03']); // longer than any track word
    assert.deepEqual(ids(catalog.search('beatels yesterdy', 10)), ['t03']);
    assert.deepEqual(ids(catalog.search('beatels zeppelin', 10)), []);
  });

  void it('ignores case and diacritics, in the query and in the tracks', () => {
    assert.deepEqual(ids(catalog.search('BEYONCE', 10)), ['t06']);
    assert.deepEqual(ids(catalog.search('beyoncé', 10)), ['t06']);
    assert.deepEqual(ids(catalog.search('MOTORHEAD', 10)), ['t09']);
    assert.deepEqual(ids(catalog.search('motörhead spades', 10)), ['t09']);
    // "Café" in the title and "Cafe" in the album are the same word to search.
    assert.deepEqual(ids(catalog.search('CAFÉ', 10)), ['t07']);
    assert.deepEqual(ids(catalog.search('cafe mar', 10)), ['t07']);
  });

  void it('treats punctuation as a separator and apostrophes as part of a word', () => {
    assert.deepEqual(ids(catalog.search("don't stop", 10)), ['t08']);
    assert.deepEqual(ids(catalog.search('dont', 10)), ['t08']);
    assert.deepEqual(ids(catalog.search('  help!!! ', 10)), ['t03']);
  });

  void it('ranks title matches before artist, album and genre matches', () => {
    // t01 has "Road" in its album and comes first in the catalog; t05 and t12 have it in the title.
    const road = ids(catalog.search('road', 10));
    assert.deepEqual(road.slice(0, 2), ['t05', 't12']);
    assert.ok(road.indexOf('t01') > road.indexOf('t12'));
    // "country": t12's title beats the two Dolly Parton tracks, which match it only as genre.
    assert.deepEqual(ids(catalog.search('country', 10)), ['t12', 't10', 't11']);
  });

  void it('ranks whole-word matches before prefix matches in the same field', () => {
    // "love" is a whole word of t14's and t06's titles (t14's first word, hence first), but only a
    // prefix of t13's "Lovely", although t13 comes earlier in the catalog than t14.
    assert.deepEqual(ids(catalog.search('love', 10)), ['t14', 't06', 't13']);
  });

  void it('ranks an exact title first, then titles starting with the query', () => {
    // Both Jolene tracks match in title and album; the one titled exactly "Jolene" wins although later.
    assert.deepEqual(ids(catalog.search('jolene', 10)), ['t11', 't10']);
    assert.deepEqual(ids(catalog.search('beat', 10))[0], 't04'); // "Beat It" over the Beatles' artist prefix
  });

  void it('breaks ties by catalog order, deterministically', () => {
    // Every Beatles track matches "beatles" in the artist only: catalog order.
    assert.deepEqual(ids(catalog.search('beatles', 10)), ['t01', 't02', 't03', 't14']);
    assert.deepEqual(catalog.search('pop', 10), catalog.search('pop', 10));
  });

  void it('honours the limit', () => {
    assert.equal(catalog.search('the', 2).length, 2);
    assert.deepEqual(ids(catalog.search('beatles', 2)), ['t01', 't02']);
    assert.deepEqual(catalog.search('beatles', 0), []);
    assert.deepEqual(catalog.search('beatles', -5), []);
    assert.deepEqual(catalog.search('beatles', Number.NaN), []);
    assert.equal(catalog.search('beatles', 2.9).length, 2);
  });

  void it('returns the first tracks in catalog order for an empty or blank query', () => {
    assert.deepEqual(ids(catalog.search('', 3)), ['t01', 't02', 't03']);
    assert.deepEqual(ids(catalog.search('   ', 3)), ['t01', 't02', 't03']);
    assert.deepEqual(ids(catalog.search('', 100)), ids(TRACKS));
  });

  void it('matches a repeated query word like a single one, and ranks by the whole query', () => {
    assert.deepEqual(ids(catalog.search('please please', 10)), ['t14']);
    // "Jolene Jolene" is not the title "Jolene", so neither track gets the exact-title bonus.
    assert.deepEqual(ids(catalog.search('jolene jolene', 10)), ['t10', 't11']);
  });
});

void describe('catalog lookup', () => {
  const catalog = createCatalog(TRACKS);

  void it('reports its size', () => {
    assert.equal(catalog.size, TRACKS.length);
  });

  void it('gets a track by id, and undefined for an unknown id', () => {
    assert.deepEqual(catalog.get('t03'), TRACKS[2]);
    assert.equal(catalog.get('t99'), undefined);
    assert.equal(catalog.get(''), undefined);
  });

  void it('hands out frozen tracks, so no caller can change the catalog for others', () => {
    const got = catalog.get('t03')!;
    assert.ok(Object.isFrozen(got));
    assert.throws(() => {
      (got as { title: string }).title = 'changed';
    }, TypeError);
    assert.equal(catalog.get('t03')!.title, 'Yesterday');
  });

  void it('has no artwork for tracks that were not scanned', () => {
    assert.equal(catalog.artwork('t03'), undefined);
  });

  void it('refuses duplicate track ids', () => {
    assert.throws(() => createCatalog([TRACKS[0]!, TRACKS[0]!]), /duplicate track id.*t01/);
  });
});
