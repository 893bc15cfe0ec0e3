// Minimal but valid audio files, built byte by byte from the format specifications, so the tag tests
// need no binary fixtures and no encoder. Each builder writes real tags (ID3v2.3, FLAC/Vorbis
// comments, Ogg Opus comments, MP4 ilst atoms, RIFF INFO) around a stub of audio whose length the
// container states, which is all a tag reader looks at.

export interface Tags {
  readonly title?: string;
  readonly artist?: string;
  readonly album?: string;
  readonly year?: number;
  readonly genre?: string;
}

export interface Picture {
  readonly mime: string;
  readonly data: Uint8Array;
}

/** A real 1x1 PNG. */
export const PNG_1X1 = new Uint8Array(
  Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
    'base64',
  ),
);

/** Bytes that start like a JPEG (SOI + JFIF APP0); a tag reader only carries them. `seed` makes them distinct. */
export function fakeJpeg(seed: number): Uint8Array {
  const bytes = Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00,
  ]);
  return new Uint8Array(Buffer.concat([bytes, Buffer.alloc(64, seed & 0xff), Buffer.from([0xff, 0xd9])]));
}

const u8 = (n: number): Buffer => Buffer.from([n & 0xff]);
function u16be(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u24be(n: number): Buffer {
  return Buffer.from([(n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}
function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
function u16le(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
function u64le(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

// ---- MP3: ID3v2.3 tag + MPEG-1 Layer III frames --------------------------------------------------

/** MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, stereo: 1152 samples per frame. */
export const MP3_SAMPLES_PER_FRAME = 1152;
export const MP3_SAMPLE_RATE = 44100;
const MP3_FRAME_HEADER = Buffer.from([0xff, 0xfb, 0x90, 0x00]);
/** floor(144 * bitrate / sampleRate), no padding. */
const MP3_FRAME_LENGTH = Math.floor((144 * 128000) / 44100);

function syncsafe(n: number): Buffer {
  return Buffer.from([(n >>> 21) & 0x7f, (n >>> 14) & 0x7f, (n >>> 7) & 0x7f, n & 0x7f]);
}

function id3Frame(id: string, body: Buffer): Buffer {
  // ID3v2.3 frame sizes are plain 32-bit big-endian (v2.4 made them syncsafe).
  return Buffer.concat([latin1(id), u32be(body.length), Buffer.alloc(2), body]);
}

/** A text frame in UTF-16 with a byte-order mark (encoding 1), as most v2.3 writers do. */
function id3Text(id: string, text: string): Buffer {
  return id3Frame(id, Buffer.concat([u8(1), Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
}

export function id3v2Tag(tags: Tags, picture?: Picture): Buffer {
  const frames: Buffer[] = [];
  if (tags.title !== undefined) frames.push(id3Text('TIT2', tags.title));
  if (tags.artist !== undefined) frames.push(id3Text('TPE1', tags.artist));
  if (tags.album !== undefined) frames.push(id3Text('TALB', tags.album));
  if (tags.year !== undefined) frames.push(id3Text('TYER', String(tags.year)));
  if (tags.genre !== undefined) frames.push(id3Text('TCON', tags.genre));
  if (picture !== undefined) {
    // APIC: text encoding, MIME type (latin1, NUL-terminated), picture type 3 (front cover),
    // description (empty, NUL-terminated in encoding 0), then the image.
    frames.push(
      id3Frame(
        'APIC',
        Buffer.concat([u8(0), latin1(picture.mime), u8(0), u8(3), u8(0), Buffer.from(picture.data)]),
      ),
    );
  }
  const body = Buffer.concat(frames);
  return Buffer.concat([latin1('ID3'), Buffer.from([3, 0, 0]), syncsafe(body.length), body]);
}

/**
 * An MP3: the ID3v2 tag, a Xing frame stating the frame count (how real VBR files state their
 * length), then `frames` silent frames. Duration: frames * 1152 / 44100 s.
 */
export function mp3File(tags: Tags, frames: number, picture?: Picture): Uint8Array {
  const xing = Buffer.alloc(MP3_FRAME_LENGTH);
  MP3_FRAME_HEADER.copy(xing, 0);
  // The Xing header sits after the side information, 32 bytes for MPEG-1 stereo.
  latin1('Xing').copy(xing, 4 + 32);
  xing.writeUInt32BE(0x3, 4 + 32 + 4); // flags: frame count and byte count present
  xing.writeUInt32BE(frames, 4 + 32 + 8);
  xing.writeUInt32BE((frames + 1) * MP3_FRAME_LENGTH, 4 + 32 + 12);
  const audio: Buffer[] = [];
  for (let i = 0; i < frames; i++) {
    const frame = Buffer.alloc(MP3_FRAME_LENGTH);
    MP3_FRAME_HEADER.copy(frame, 0);
    audio.push(frame);
  }
  return new Uint8Array(Buffer.concat([id3v2Tag(tags, picture), xing, ...audio]));
}

// ---- FLAC: STREAMINFO + VORBIS_COMMENT + PICTURE --------------------------------------------------

function vorbisComments(tags: Tags, extra: readonly string[] = []): Buffer {
  const entries: string[] = [];
  if (tags.title !== undefined) entries.push(`TITLE=${tags.title}`);
  if (tags.artist !== undefined) entries.push(`ARTIST=${tags.artist}`);
  if (tags.album !== undefined) entries.push(`ALBUM=${tags.album}`);
  if (tags.year !== undefined) entries.push(`DATE=${tags.year}`);
  if (tags.genre !== undefined) entries.push(`GENRE=${tags.genre}`);
  entries.push(...extra);
  const vendor = utf8('chorus test fixtures');
  // Vorbis comment lengths are little-endian, unlike the rest of FLAC.
  return Buffer.concat([
    u32le(vendor.length),
    vendor,
    u32le(entries.length),
    ...entries.flatMap((e) => [u32le(utf8(e).length), utf8(e)]),
  ]);
}

/** The FLAC PICTURE block body, which Ogg files also carry base64-encoded in METADATA_BLOCK_PICTURE. */
function flacPicture(picture: Picture): Buffer {
  return Buffer.concat([
    u32be(3), // front cover
    u32be(picture.mime.length),
    latin1(picture.mime),
    u32be(0), // description length
    u32be(1), // width
    u32be(1), // height
    u32be(24), // colour depth
    u32be(0), // palette size
    u32be(picture.data.length),
    Buffer.from(picture.data),
  ]);
}

function flacBlock(type: number, last: boolean, body: Buffer): Buffer {
  return Buffer.concat([u8((last ? 0x80 : 0) | type), u24be(body.length), body]);
}

/** A FLAC stream with `totalSamples` samples at `sampleRate` declared in STREAMINFO, and no frames. */
export function flacFile(
  tags: Tags,
  totalSamples: number,
  sampleRate: number,
  picture?: Picture,
): Uint8Array {
  const info = Buffer.alloc(34);
  info.writeUInt16BE(4096, 0); // min block size
  info.writeUInt16BE(4096, 2); // max block size
  // bytes 4-9: min and max frame size, unknown (0)
  // 20 bits sample rate, 3 bits channels - 1, 5 bits bits-per-sample - 1, 36 bits total samples.
  const packed =
    (BigInt(sampleRate) << 44n) | (BigInt(2 - 1) << 41n) | (BigInt(16 - 1) << 36n) | BigInt(totalSamples);
  info.writeBigUInt64BE(packed, 10);
  // bytes 18-33: MD5 of the audio, unknown (0)
  const blocks = [flacBlock(0, false, info), flacBlock(4, picture === undefined, vorbisComments(tags))];
  if (picture !== undefined) blocks.push(flacBlock(6, true, flacPicture(picture)));
  return new Uint8Array(Buffer.concat([latin1('fLaC'), ...blocks]));
}

// ---- Ogg Opus: OpusHead + OpusTags pages + one audio page ---------------------------------------

const OGG_CRC_TABLE = Array.from({ length: 256 }, (_, i) => {
  let r = i << 24;
  for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
  return r >>> 0;
});

/** Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial value 0. */
function oggCrc(data: Buffer): number {
  let crc = 0;
  for (const byte of data) crc = ((crc << 8) ^ OGG_CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc;
}

function oggPage(packet: Buffer, flags: number, granule: bigint, sequence: number): Buffer {
  // Lacing: 255-byte segments, then the remainder (0 when the packet is a multiple of 255).
  const lacing: number[] = [];
  for (let left = packet.length; ; left -= 255) {
    lacing.push(Math.min(left, 255));
    if (left < 255) break;
  }
  if (lacing.length > 255) throw new Error('packet too large for one Ogg page');
  const page = Buffer.concat([
    latin1('OggS'),
    u8(0), // version
    u8(flags),
    u64le(granule),
    u32le(0x43484f52), // stream serial number
    u32le(sequence),
    u32le(0), // CRC, filled below
    u8(lacing.length),
    Buffer.from(lacing),
    packet,
  ]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

const OPUS_PRE_SKIP = 312;

/** An Ogg Opus stream of `durationMs`, its last granule position stating the length (48 kHz units). */
export function opusFile(tags: Tags, durationMs: number, picture?: Picture): Uint8Array {
  const head = Buffer.concat([
    latin1('OpusHead'),
    u8(1), // version
    u8(2), // channels
    u16le(OPUS_PRE_SKIP),
    u32le(48000), // input sample rate (informational)
    u16le(0), // output gain
    u8(0), // channel mapping family
  ]);
  const extra =
    picture === undefined ? [] : [`METADATA_BLOCK_PICTURE=${flacPicture(picture).toString('base64')}`];
  const comments = Buffer.concat([latin1('OpusTags'), vorbisComments(tags, extra)]);
  // One 20 ms CELT frame of silence would do for a decoder; a tag reader only reads its page header.
  const audio = Buffer.from([0xf8, 0xff, 0xfe]);
  const lastGranule = BigInt(OPUS_PRE_SKIP + (durationMs * 48000) / 1000);
  return new Uint8Array(
    Buffer.concat([
      oggPage(head, 0x02, 0n, 0), // beginning of stream
      oggPage(comments, 0x00, 0n, 1),
      oggPage(audio, 0x04, lastGranule, 2), // end of stream
    ]),
  );
}

// ---- MP4 (M4A): ftyp, moov with one sound track and iTunes-style ilst tags, mdat ------------------

function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  return Buffer.concat([u32be(8 + body.length), latin1(type), body]);
}

function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  return box(type, u8(version), u24be(flags), ...payload);
}

/** The unity transformation matrix of mvhd and tkhd. */
const MATRIX = Buffer.concat([0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].map(u32be));

/** An ilst item: its atom holding a 'data' atom with a type indicator (1 UTF-8, 13 JPEG, 14 PNG). */
function ilstItem(type: string, dataType: number, value: Buffer): Buffer {
  return box(type, box('data', u32be(dataType), u32be(0), value));
}

/** An M4A with one AAC sound track of `samples` samples at `sampleRate` (mdhd's time scale). */
export function m4aFile(tags: Tags, samples: number, sampleRate: number, picture?: Picture): Uint8Array {
  const ftyp = box('ftyp', latin1('M4A '), u32be(0), latin1('M4A '), latin1('mp42'), latin1('isom'));
  const mvhd = fullBox(
    'mvhd',
    0,
    0,
    u32be(0), // creation time
    u32be(0), // modification time
    u32be(1000), // time scale
    u32be(Math.round((samples / sampleRate) * 1000)),
    u32be(0x00010000), // rate 1.0
    u16be(0x0100), // volume 1.0
    Buffer.alloc(10),
    MATRIX,
    Buffer.alloc(24),
    u32be(2), // next track id
  );
  const tkhd = fullBox(
    'tkhd',
    0,
    0x7, // enabled, in movie, in preview
    u32be(0),
    u32be(0),
    u32be(1), // track id
    u32be(0),
    u32be(Math.round((samples / sampleRate) * 1000)),
    Buffer.alloc(8),
    u16be(0), // layer
    u16be(0), // alternate group
    u16be(0x0100), // volume
    u16be(0),
    MATRIX,
    u32be(0), // width
    u32be(0), // height
  );
  const mdhd = fullBox(
    'mdhd',
    0,
    0,
    u32be(0),
    u32be(0),
    u32be(sampleRate),
    u32be(samples),
    u16be(0x55c4),
    u16be(0),
  );
  const hdlr = fullBox('hdlr', 0, 0, u32be(0), latin1('soun'), Buffer.alloc(12), latin1('SoundHandler\0'));
  const mp4a = box(
    'mp4a',
    Buffer.alloc(6), // reserved
    u16be(1), // data reference index
    Buffer.alloc(8), // version, revision, vendor
    u16be(2), // channels
    u16be(16), // sample size
    u16be(0),
    u16be(0),
    u32be(sampleRate * 65536), // sample rate, 16.16 fixed point
  );
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32be(1), mp4a),
    fullBox('stts', 0, 0, u32be(0)),
    fullBox('stsc', 0, 0, u32be(0)),
    fullBox('stsz', 0, 0, u32be(0), u32be(0)),
    fullBox('stco', 0, 0, u32be(0)),
  );
  const dinf = box('dinf', fullBox('dref', 0, 0, u32be(1), fullBox('url ', 0, 1)));
  const minf = box('minf', fullBox('smhd', 0, 0, u16be(0), u16be(0)), dinf, stbl);
  const trak = box('trak', tkhd, box('mdia', mdhd, hdlr, minf));

  const items: Buffer[] = [];
  if (tags.title !== undefined) items.push(ilstItem('\xa9nam', 1, utf8(tags.title)));
  if (tags.artist !== undefined) items.push(ilstItem('\xa9ART', 1, utf8(tags.artist)));
  if (tags.album !== undefined) items.push(ilstItem('\xa9alb', 1, utf8(tags.album)));
  if (tags.year !== undefined) items.push(ilstItem('\xa9day', 1, utf8(String(tags.year))));
  if (tags.genre !== undefined) items.push(ilstItem('\xa9gen', 1, utf8(tags.genre)));
  if (picture !== undefined) {
    items.push(ilstItem('covr', picture.mime === 'image/png' ? 14 : 13, Buffer.from(picture.data)));
  }
  const metaHdlr = fullBox('hdlr', 0, 0, u32be(0), latin1('mdir'), latin1('appl'), Buffer.alloc(8), u8(0));
  const udta = box('udta', fullBox('meta', 0, 0, metaHdlr, box('ilst', ...items)));
  const moov = box('moov', mvhd, trak, udta);
  return new Uint8Array(Buffer.concat([ftyp, moov, box('mdat', Buffer.alloc(16))]));
}

// ---- WAV: fmt + LIST/INFO + data ------------------------------------------------------------------

function riffChunk(id: string, body: Buffer): Buffer {
  // RIFF chunks are padded to an even length; the size field excludes the pad byte.
  const pad = body.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0);
  return Buffer.concat([latin1(id), u32le(body.length), body, pad]);
}

/**
 * A 16-bit mono PCM WAV at `sampleRate` with `samples` samples of silence and RIFF INFO tags. INFO
 * strings have no declared encoding; readers take them as Latin-1, so that is what is written.
 */
export function wavFile(tags: Tags, samples: number, sampleRate: number): Uint8Array {
  const fmt = Buffer.concat([
    u16le(1), // PCM
    u16le(1), // channels
    u32le(sampleRate),
    u32le(sampleRate * 2), // byte rate
    u16le(2), // block align
    u16le(16), // bits per sample
  ]);
  const info: Buffer[] = [];
  const add = (id: string, value: string | undefined): void => {
    if (value !== undefined) info.push(riffChunk(id, Buffer.concat([latin1(value), u8(0)])));
  };
  add('INAM', tags.title);
  add('IART', tags.artist);
  add('IPRD', tags.album);
  add('ICRD', tags.year === undefined ? undefined : String(tags.year));
  add('IGNR', tags.genre);
  const body = Buffer.concat([
    latin1('WAVE'),
    riffChunk('fmt ', fmt),
    riffChunk('LIST', Buffer.concat([latin1('INFO'), ...info])),
    riffChunk('data', Buffer.alloc(samples * 2)),
  ]);
  return new Uint8Array(Buffer.concat([latin1('RIFF'), u32le(body.length), body]));
}
