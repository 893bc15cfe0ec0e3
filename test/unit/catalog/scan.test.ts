// Scanning a music folder: a temporary folder is filled with audio files built by audio-fixtures.ts
// (one per tag format), files that must be skipped with a warning, and files that must be ignored.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  artworkUrl,
  fileTrackId,
  loadCatalog,
  loadDemoTracks,
  UNKNOWN_ARTIST,
  type Catalog,
} from '../../../src/catalog/catalog.ts';
import type { Track } from '../../../src/domain/types.ts';
import { checkTrack, LIMITS } from '../../../src/domain/validate.ts';
import {
  fakeJpeg,
  flacFile,
  id3v2Tag,
  m4aFile,
  mp3File,
  MP3_SAMPLE_RATE,
  MP3_SAMPLES_PER_FRAME,
  opusFile,
  PNG_1X1,
  wavFile,
} from './audio-fixtures.ts';

const FLAC_COVER = fakeJpeg(1);
const OPUS_COVER = fakeJpeg(2);
const LONG_TITLE = 'Over\u0007long ' + 'la'.repeat(400);

/** Relative path -> contents of every file in the test folder. */
const FILES: Record<string, Uint8Array | string> = {
  'Artist A/Album X/1 - first.mp3': mp3File(
    { title: 'Été MP3 Song', artist: 'Ärtist Mp3', album: 'Album X', year: 1999, genre: 'Chanson' },
    100,
    { mime: 'image/png', data: PNG_1X1 },
  ),
  'Artist A/Album X/2 - second.flac': flacFile(
    { title: 'FLAC Song', artist: 'Flac Artist', album: 'Album X', year: 2005, genre: 'Jazz' },
    154_350,
    44_100,
    { mime: 'image/jpeg', data: FLAC_COVER },
  ),
  'Artist A/Album X/10 - tenth.flac': flacFile(
    { title: 'Tenth Song', artist: 'Flac Artist' },
    88_200,
    44_100,
  ),
  'M4A/song.m4a': m4aFile(
    { title: 'M4A Song', artist: 'Mp4 Artist', album: 'Mp4 Album', year: 2011, genre: 'Pop' },
    187_425,
    44_100,
    { mime: 'image/png', data: PNG_1X1 },
  ),
  'messy.mp3': mp3File(
    { title: LONG_TITLE, artist: 'Line\nBreak\tArtist', album: '\ufeffBOM Album\u0000' },
    10,
  ),
  'Opus/song.opus': opusFile(
    { title: 'Opus Song', artist: 'Ogg Artist', album: 'Ogg Album', year: 2020, genre: 'Ambient' },
    2500,
    { mime: 'image/jpeg', data: OPUS_COVER },
  ),
  'untagged/No Tags Here.flac': flacFile({}, 22_050, 44_100),
  'Wav/field recording.wav': wavFile(
    { title: 'Wav Song', artist: 'Riff Artist', album: 'Info Album' },
    12_000,
    8000,
  ),
  // Skipped, each with a warning:
  'broken/garbage.mp3': new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)),
  'broken/truncated.flac': flacFile({ title: 'Cut' }, 44_100, 44_100).subarray(0, 20),
  'broken/empty.m4a': new Uint8Array(0),
  'broken/tag only.mp3': id3v2Tag({ title: 'No audio' }),
  // A RIFF file that is an AVI, not a WAVE: the parser throws rather than returning no duration.
  'broken/video.wav': new Uint8Array(
    Buffer.concat([
      Buffer.from('RIFF'),
      Buffer.from([100, 0, 0, 0]),
      Buffer.from('AVI LIST'),
      Buffer.alloc(100),
    ]),
  ),
  // Ignored silently: not audio, or hidden.
  'cover.jpg': FLAC_COVER,
  'notes.txt': 'liner notes',
  '.hidden.mp3': 'not audio at all',
  '.trash/deleted.mp3': 'not audio either',
};
const SCANNED = 8;
const BROKEN = [
  'broken/empty.m4a',
  'broken/garbage.mp3',
  'broken/tag only.mp3',
  'broken/truncated.flac',
  'broken/video.wav',
];

void describe('music folder scan', () => {
  let dir: string;
  let catalog: Catalog;
  let demoSize: number;
  const warnings: [string, string][] = [];
  const progress: [number, number][] = [];
  const abs = (rel: string): string => path.join(dir, ...rel.split('/'));
  const scanned = (rel: string): Track => {
    const track = catalog.get(fileTrackId(rel));
    assert.ok(track, `no track for ${rel}`);
    return track;
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'chorus-catalog-'));
    for (const [rel, contents] of Object.entries(FILES)) {
      await mkdir(path.dirname(abs(rel)), { recursive: true });
      await writeFile(abs(rel), contents);
    }
    // A link back to the top: the scan must neither loop nor list the files twice.
    await symlink(dir, abs('Artist A/loop'), 'dir');
    demoSize = (await loadDemoTracks()).length;
    catalog = await loadCatalog({
      musicDir: dir,
      onWarning: (file, message) => warnings.push([file, message]),
      onProgress: (done, total) => progress.push([done, total]),
    });
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void it('adds every readable audio file to the demo tracks', () => {
    assert.equal(catalog.size, demoSize + SCANNED);
  });

  void it('warns about each unreadable file, once, and about nothing else', () => {
    const warned = warnings.map(([file]) => path.relative(dir, file).split(path.sep).join('/')).sort();
    assert.deepEqual(warned, BROKEN);
    const reasons = Object.fromEntries(
      warnings.map(([file, message]) => [path.basename(file), message]),
    ) as Record<string, string>;
    // Depending on the format, the parser either throws or finds no audio; both are reported.
    for (const name of ['garbage.mp3', 'truncated.flac', 'empty.m4a']) {
      assert.match(reasons[name]!, /^(cannot read tags: \S|no duration)/, name);
    }
    assert.match(reasons['video.wav']!, /^cannot read tags: .*RIFF/);
    assert.match(reasons['tag only.mp3']!, /^no duration/);
  });

  void it('lists the folder in natural path order, before the demo tracks', () => {
    const first = catalog.search('', SCANNED + 1);
    assert.deepEqual(
      first.map((t) => t.trackId),
      [
        'Artist A/Album X/1 - first.mp3',
        'Artist A/Album X/2 - second.flac',
        'Artist A/Album X/10 - tenth.flac', // after "2", not between "1" and "2"
        'M4A/song.m4a',
        'messy.mp3',
        'Opus/song.opus',
        'untagged/No Tags Here.flac',
        'Wav/field recording.wav',
      ]
        .map(fileTrackId)
        .concat('demo:0001'),
    );
  });

  void it('reports progress from (0, total) up to (total, total)', () => {
    const total = SCANNED + BROKEN.length;
    assert.deepEqual(progress[0], [0, total]);
    assert.deepEqual(progress.at(-1), [total, total]);
    assert.equal(progress.length, total + 1);
    progress.forEach(([done], i) => assert.equal(done, i));
  });

  void it('gives scanned tracks valid, stable ids derived from the relative path', async () => {
    for (const track of catalog.search('', SCANNED)) {
      assert.equal(checkTrack(track), null);
      assert.match(track.trackId, /^file:[0-9a-f]{16}$/);
    }
    // A second scan (a restart) gives the same ids for the same files.
    const again = await loadCatalog({ musicDir: dir });
    assert.deepEqual(
      again.search('', SCANNED).map((t) => t.trackId),
      catalog.search('', SCANNED).map((t) => t.trackId),
    );
  });

  void it('reads ID3v2 tags and the APIC picture of an MP3', () => {
    const rel = 'Artist A/Album X/1 - first.mp3';
    const track = scanned(rel);
    assert.equal(track.title, 'Été MP3 Song');
    assert.equal(track.artist, 'Ärtist Mp3');
    assert.equal(track.album, 'Album X');
    assert.equal(track.year, 1999);
    assert.equal(track.genre, 'Chanson');
    assert.equal(track.durationMs, Math.round(((100 * MP3_SAMPLES_PER_FRAME) / MP3_SAMPLE_RATE) * 1000));
    // Served by id from any node; the server's path never leaves it.
    assert.equal(track.sourceUri, undefined);
    assert.equal(track.audioUrl, `/v1/tracks/${encodeURIComponent(track.trackId)}/audio`);
    assert.equal(catalog.audioFile(track.trackId), abs(rel));
    assert.equal(track.artworkUrl, `/v1/catalog/tracks/${encodeURIComponent(track.trackId)}/artwork`);
    assert.equal(track.artworkUrl, artworkUrl(track.trackId));
    assert.deepEqual(catalog.artwork(track.trackId), { mime: 'image/png', data: PNG_1X1 });
  });

  void it('reads the Vorbis comments and PICTURE block of a FLAC', () => {
    const track = scanned('Artist A/Album X/2 - second.flac');
    assert.deepEqual(
      { ...track, trackId: undefined, audioUrl: undefined, artworkUrl: undefined },
      {
        trackId: undefined,
        title: 'FLAC Song',
        artist: 'Flac Artist',
        album: 'Album X',
        durationMs: 3500,
        year: 2005,
        genre: 'Jazz',
        audioUrl: undefined,
        artworkUrl: undefined,
      },
    );
    assert.deepEqual(catalog.artwork(track.trackId), { mime: 'image/jpeg', data: FLAC_COVER });
  });

  void it('reads the Vorbis comments and METADATA_BLOCK_PICTURE of an Ogg Opus file', () => {
    const track = scanned('Opus/song.opus');
    assert.equal(track.title, 'Opus Song');
    assert.equal(track.artist, 'Ogg Artist');
    assert.equal(track.album, 'Ogg Album');
    assert.equal(track.year, 2020);
    assert.equal(track.genre, 'Ambient');
    assert.equal(track.durationMs, 2500);
    assert.deepEqual(catalog.artwork(track.trackId), { mime: 'image/jpeg', data: OPUS_COVER });
  });

  void it('reads the ilst atoms and cover of an MP4 (M4A)', () => {
    const track = scanned('M4A/song.m4a');
    assert.equal(track.title, 'M4A Song');
    assert.equal(track.artist, 'Mp4 Artist');
    assert.equal(track.album, 'Mp4 Album');
    assert.equal(track.year, 2011);
    assert.equal(track.genre, 'Pop');
    assert.equal(track.durationMs, 4250);
    assert.deepEqual(catalog.artwork(track.trackId), { mime: 'image/png', data: PNG_1X1 });
  });

  void it('keeps one copy of a cover that several files embed', () => {
    const mp3 = catalog.artwork(fileTrackId('Artist A/Album X/1 - first.mp3'));
    const m4a = catalog.artwork(fileTrackId('M4A/song.m4a'));
    assert.ok(mp3 !== undefined && mp3 === m4a);
  });

  void it('reads RIFF INFO tags of a WAV, which has no artwork', () => {
    const track = scanned('Wav/field recording.wav');
    assert.equal(track.title, 'Wav Song');
    assert.equal(track.artist, 'Riff Artist');
    assert.equal(track.album, 'Info Album');
    assert.equal(track.durationMs, 1500);
    assert.equal(track.artworkUrl, undefined);
    assert.equal(catalog.artwork(track.trackId), undefined);
  });

  void it('falls back to the file name and "Unknown artist" for an untagged file', () => {
    const track = scanned('untagged/No Tags Here.flac');
    assert.equal(track.title, 'No Tags Here');
    assert.equal(track.artist, UNKNOWN_ARTIST);
    assert.equal(track.album, '');
    assert.equal(track.durationMs, 500);
    assert.equal(track.year, undefined);
    assert.equal(track.genre, undefined);
    assert.equal(track.artworkUrl, undefined);
  });

  void it('cuts over-long tags to the domain limits and strips control characters', () => {
    const track = scanned('messy.mp3');
    assert.equal(track.title.length, LIMITS.textMaxLength);
    assert.ok(track.title.startsWith('Overlong lala'));
    assert.ok(track.title.endsWith('…'));
    assert.equal(track.artist, 'Line Break Artist');
    assert.equal(track.album, 'BOM Album');
  });

  void it('makes scanned tracks searchable alongside the demo tracks', () => {
    assert.deepEqual(
      catalog.search('ete mp3', 10).map((t) => t.trackId),
      [fileTrackId('Artist A/Album X/1 - first.mp3')],
    );
    assert.deepEqual(
      catalog.search('flac artist', 10).map((t) => t.title),
      ['FLAC Song', 'Tenth Song'],
    );
  });
});

void describe('music folder errors', () => {
  void it('rejects a missing folder, naming it', async () => {
    const missing = path.join(tmpdir(), 'chorus-no-such-music-dir-7f3a');
    await assert.rejects(loadCatalog({ musicDir: missing }), (error: Error) => {
      assert.ok(error.message.includes(missing), error.message);
      assert.match(error.message, /does not exist/);
      return true;
    });
  });

  void it('rejects a file given as the folder, naming it', async () => {
    const file = fileURLToPath(import.meta.url);
    await assert.rejects(loadCatalog({ musicDir: file }), (error: Error) => {
      assert.ok(error.message.includes(file), error.message);
      assert.match(error.message, /not a directory/);
      return true;
    });
  });

  void it('reports an empty folder as (0, 0) progress and adds nothing', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'chorus-catalog-empty-'));
    try {
      const progress: [number, number][] = [];
      const catalog = await loadCatalog({ musicDir: empty, onProgress: (d, t) => progress.push([d, t]) });
      assert.equal(catalog.size, (await loadDemoTracks()).length);
      assert.deepEqual(progress, [[0, 0]]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

void describe('real encoder output (test/fixtures/audio, made by scripts/make-audio-fixtures.sh)', () => {
  const fixtures = fileURLToPath(new URL('../../fixtures/audio/', import.meta.url));
  const expected = [
    ['real-aac.m4a', 2002, 'Test Pop', true],
    ['real-lame.mp3', 2001, 'Test Rock', true],
    ['real-vorbis.ogg', 2004, 'Test Folk', false],
    ['real.flac', 2003, 'Test Jazz', true],
  ] as const;

  void it('reads tags, duration and covers from files made by LAME, FFmpeg AAC, FLAC and libvorbis', async () => {
    const warnings: string[] = [];
    const catalog = await loadCatalog({
      musicDir: fixtures,
      onWarning: (f, m) => warnings.push(`${f}: ${m}`),
    });
    assert.deepEqual(warnings, []);
    for (const [file, year, genre, hasCover] of expected) {
      const track = catalog.get(fileTrackId(file));
      assert.ok(track, file);
      assert.equal(track.title, 'Real Encoder Song', file);
      assert.equal(track.artist, 'Fixture Band', file);
      assert.equal(track.album, 'Encoded Album', file);
      assert.equal(track.year, year, file);
      assert.equal(track.genre, genre, file);
      // 1.5 s of audio; lossy encoders add a few tens of ms of priming and padding.
      assert.ok(track.durationMs >= 1450 && track.durationMs <= 1650, `${file}: ${track.durationMs} ms`);
      const cover = catalog.artwork(track.trackId);
      if (hasCover) {
        assert.equal(cover?.mime, 'image/png', file);
        assert.deepEqual(cover.data, PNG_1X1, file);
      } else {
        assert.equal(cover, undefined, file);
      }
    }
  });
});
