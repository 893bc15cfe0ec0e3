import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { buildDemoTracks, DEMO_CATALOG_FILE, renderDemoCatalog } from '../../../scripts/make-demo-catalog.ts';
import { loadCatalog, loadDemoTracks } from '../../../src/catalog/catalog.ts';
import { checkTrack, ID_PATTERN } from '../../../src/domain/validate.ts';

void describe('demo catalog', () => {
  void it('loads with 300-500 tracks when no music folder is given', async () => {
    const catalog = await loadCatalog({});
    assert.ok(catalog.size >= 300 && catalog.size <= 500, `size ${catalog.size}`);
    assert.equal(catalog.size, (await loadDemoTracks()).length);
  });

  void it('holds only tracks the domain accepts, with every field a demo track should have', async () => {
    const idPattern = new RegExp(ID_PATTERN);
    for (const track of await loadDemoTracks()) {
      assert.equal(checkTrack(track), null, track.trackId);
      assert.match(track.trackId, /^demo:\d{4}$/);
      assert.match(track.trackId, idPattern);
      assert.ok(track.durationMs >= 120_000 && track.durationMs <= 420_000, `${track.trackId} duration`);
      assert.ok(
        track.year !== undefined && track.year >= 1950 && track.year <= 2030,
        `${track.trackId} year`,
      );
      assert.ok(track.genre !== undefined && track.genre !== '', `${track.trackId} genre`);
      assert.ok(track.album !== '', `${track.trackId} album`);
    }
  });

  void it('has unique track ids and no track twice (same title and artist)', async () => {
    const tracks = await loadDemoTracks();
    assert.equal(new Set(tracks.map((t) => t.trackId)).size, tracks.length);
    const keys = tracks.map((t) => `${t.title.toLowerCase()}\u0000${t.artist.toLowerCase()}`);
    assert.equal(new Set(keys).size, tracks.length);
  });

  void it('is varied: many artists, albums and genres', async () => {
    const tracks = await loadDemoTracks();
    assert.ok(new Set(tracks.map((t) => t.artist)).size >= 30);
    assert.ok(new Set(tracks.map((t) => `${t.artist}/${t.album}`)).size >= 45);
    assert.ok(new Set(tracks.map((t) => t.genre)).size >= 20);
  });

  void it('is exactly what the committed generator script writes (regenerating changes nothing)', async () => {
    const committed = await readFile(DEMO_CATALOG_FILE, 'utf8');
    assert.equal(renderDemoCatalog(buildDemoTracks()), committed);
  });

  void it('is searchable, including by words with diacritics typed without them', async () => {
    const catalog = await loadCatalog({});
    const sigrun = catalog.search('sigrun jokull', 50);
    assert.ok(sigrun.length > 0);
    for (const t of sigrun) assert.equal(t.artist, 'Sigrún Ósk');
    const byGenre = catalog.search('bossa', 100);
    assert.ok(byGenre.length > 0 && byGenre.every((t) => t.genre === 'Bossa Nova'));
  });

  void it('looks up demo tracks by id', async () => {
    const catalog = await loadCatalog({});
    const first = catalog.search('', 1)[0]!;
    assert.equal(first.trackId, 'demo:0001');
    assert.deepEqual(catalog.get('demo:0001'), first);
    assert.equal(catalog.get('demo:9999'), undefined);
    assert.equal(catalog.artwork('demo:0001'), undefined);
  });
});
