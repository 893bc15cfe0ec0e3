// Reading a local music folder: walk it, parse each audio file's tags with music-metadata, and turn
// them into Tracks that pass the domain's checks. A bad file costs a warning, never the whole scan.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseFile, parseStream, selectCover, type IAudioMetadata, type IPicture } from 'music-metadata';
import type { Track } from '../domain/types.ts';
import type { Artwork } from './catalog.ts';
import { checkTrack, LIMITS, trackAudioUrl } from '../domain/validate.ts';
import { cleanText, truncate } from './text.ts';

export interface ScanOptions {
  /**
   * Parses kept from an earlier scan of the same folder, by file, reused while a file's size and
   * modification time are unchanged (a rescan after a change then reads only what changed). The
   * scan updates it: files gone are dropped, files read are added.
   */
  readonly cache?: Map<string, CachedParse> | undefined;
  readonly onProgress?: ((scanned: number, total: number) => void) | undefined;
  /** A file or folder was skipped; `message` says why ("cannot read tags: …", "no duration …"). */
  readonly onWarning?: ((file: string, message: string) => void) | undefined;
}

export interface ScanResult {
  /** In path order (natural sort), so an album's "2 - …" comes before its "10 - …". */
  readonly tracks: Track[];
  readonly artwork: Map<string, Artwork>;
  /**
   * trackId -> the file's real path, for the tracks whose audio may be served: those whose real
   * path lies inside the music folder's real path (a link out of the folder is listed, not served).
   */
  readonly files: Map<string, string>;
  /** The music folder's real path. */
  readonly root: string;
}

/**
 * Extensions of the audio containers music-metadata reads. Other files (cover.jpg, playlists, notes)
 * are ignored silently; a file with one of these extensions that cannot be read is warned about.
 */
export const AUDIO_EXTENSIONS: ReadonlySet<string> = new Set([
  '.aac',
  '.aif',
  '.aifc',
  '.aiff',
  '.ape',
  '.dff',
  '.dsf',
  '.flac',
  '.m4a',
  '.m4b',
  '.mka',
  '.mp2',
  '.mp3',
  '.mp4',
  '.mpc',
  '.oga',
  '.ogg',
  '.opus',
  '.spx',
  '.wav',
  '.weba',
  '.webm',
  '.wma',
  '.wv',
]);

/** Files parsed at once: enough to overlap disk latency, few enough not to exhaust file handles. */
const CONCURRENCY = 8;
/**
 * The read budget per file. A file up to this size is parsed with random access (tags at its end
 * included) and, when its header does not state the duration, read whole to measure it. A larger
 * file is read only this far from its start: a hostile or broken file (gigabytes of zeros named
 * .mp3, where the parser would hunt for a frame to the very end) then costs 64 MiB, not its size.
 */
export const FILE_READ_BUDGET = 64 * 1024 * 1024;
/** Hex digits of the path hash in a scanned track's id: 64 bits, collision-free for any real library. */
const ID_HASH_LENGTH = 16;

export const UNKNOWN_ARTIST = 'Unknown artist';

/** The id of a scanned file: stable across restarts and machines as long as its path under the music dir stays. */
export function fileTrackId(relativePath: string): string {
  // Separators as '/' and names in NFC, so the same library gives the same ids on Windows and on
  // macOS (which hands out decomposed file names).
  const key = relativePath.split(path.sep).join('/').normalize('NFC');
  return 'file:' + createHash('sha256').update(key).digest('hex').slice(0, ID_HASH_LENGTH);
}

/** The URL the REST API serves a track's artwork at. */
export function artworkUrl(trackId: string): string {
  return `/v1/catalog/tracks/${encodeURIComponent(trackId)}/artwork`;
}

/**
 * Scans `musicDir` recursively. Throws only when the folder itself is missing or unreadable; every
 * problem with a file or a subfolder is reported through `onWarning` and skipped.
 */
export async function scanMusicDir(musicDir: string, options: ScanOptions = {}): Promise<ScanResult> {
  const root = await checkMusicDir(musicDir);
  const realRoot = await realpath(root);
  const warn = options.onWarning ?? (() => {});

  const files = await listAudioFiles(root, warn);
  const total = files.length;
  options.onProgress?.(0, total);

  // Results land at their file's position, so the catalog order does not depend on which parse
  // finished first.
  const results: (ParsedFile | null)[] = new Array<ParsedFile | null>(total).fill(null);
  // Albums usually embed the same cover in every track: keep one copy of each distinct image, and
  // drop the duplicates as soon as each file is read, so a big library never holds them all at once.
  const distinctImages = new Map<string, Artwork>();
  const shared = (image: Artwork): Artwork => {
    const digest = createHash('sha256').update(image.data).digest('hex');
    const known = distinctImages.get(digest);
    if (known !== undefined) return known;
    distinctImages.set(digest, image);
    return image;
  };
  let next = 0;
  let scanned = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const file = files[i]!;
      try {
        const info = await stat(file);
        const stamp = `${info.size}:${info.mtimeMs}`;
        const known = options.cache?.get(file);
        const parsed =
          known?.stamp === stamp ? known.parsed : await readAudioFile(root, realRoot, file, info.size, warn);
        options.cache?.set(file, { stamp, parsed });
        results[i] = parsed?.picture === undefined ? parsed : { ...parsed, picture: shared(parsed.picture) };
      } catch (error) {
        // readAudioFile handles the failures it expects; whatever else a strange file provokes in
        // the parser still costs only that file.
        warn(file, messageOf(error));
      }
      scanned++;
      options.onProgress?.(scanned, total);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, total) }, worker));
  if (options.cache) {
    const present = new Set(files);
    for (const file of options.cache.keys()) if (!present.has(file)) options.cache.delete(file);
  }

  const tracks: Track[] = [];
  const artwork = new Map<string, Artwork>();
  const audioFiles = new Map<string, string>();
  const seenIds = new Set<string>();
  for (const [i, result] of results.entries()) {
    if (result === null) continue;
    const { track, picture, realFile } = result;
    if (seenIds.has(track.trackId)) {
      // Practically impossible with a 64-bit hash, but two tracks must never share an id.
      warn(files[i]!, `its track id ${track.trackId} collides with another file's`);
      continue;
    }
    seenIds.add(track.trackId);
    tracks.push(track);
    if (picture !== undefined) artwork.set(track.trackId, picture);
    if (realFile !== undefined) audioFiles.set(track.trackId, realFile);
  }
  return { tracks, artwork, files: audioFiles, root: realRoot };
}

/** The folder's absolute path; rejects, saying why, when it is missing or not a readable folder. */
export async function checkMusicDir(given: string): Promise<string> {
  const root = path.resolve(given);
  const shown = given === root ? `"${root}"` : `"${given}" (${root})`;
  let info;
  try {
    info = await stat(root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new Error(`music directory ${shown} does not exist`, { cause: error });
    }
    throw new Error(`cannot read music directory ${shown}: ${messageOf(error)}`, { cause: error });
  }
  if (!info.isDirectory()) throw new Error(`music directory ${shown} is not a directory`);
  return root;
}

/**
 * Absolute paths of the audio files under `root`, in a stable order: folders walked depth first, the
 * entries of each folder in natural order. Hidden files and folders (a leading '.') are skipped,
 * which also skips macOS "._name.mp3" resource forks that would otherwise each produce a warning.
 * Symbolic links are followed, each real folder visited once, so a link loop cannot hang the scan.
 */
async function listAudioFiles(
  root: string,
  warn: (file: string, message: string) => void,
): Promise<string[]> {
  const files: string[] = [];
  const visited = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      const real = await realpath(dir);
      if (visited.has(real)) return;
      visited.add(real);
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      warn(dir, `cannot read folder: ${messageOf(error)}`);
      return;
    }
    entries.sort((a, b) => naturalCompare(a.name, b.name));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      let isDirectory = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        try {
          const target = await stat(full);
          isDirectory = target.isDirectory();
          isFile = target.isFile();
        } catch (error) {
          warn(full, `broken link: ${messageOf(error)}`);
          continue;
        }
      }
      if (isDirectory) await walk(full);
      else if (isFile && AUDIO_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) files.push(full);
    }
  };
  await walk(root);
  return files;
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/** "Track 2" before "Track 10"; falls back to code units so that no two distinct names tie. */
function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

export interface CachedParse {
  readonly stamp: string;
  readonly parsed: ParsedFile | null;
}

interface ParsedFile {
  readonly track: Track;
  readonly picture?: Artwork | undefined;
  /** The real path, when it lies inside the music folder (its audio may be served). */
  readonly realFile?: string | undefined;
}

/** Whether `real` (a real path) is `realRoot` itself or lies below it. */
export function isInside(realRoot: string, real: string): boolean {
  const relative = path.relative(realRoot, real);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

async function readAudioFile(
  root: string,
  realRoot: string,
  file: string,
  /** Its size, as the scan's stat found it. */
  size: number,
  warn: (file: string, message: string) => void,
): Promise<ParsedFile | null> {
  let metadata: IAudioMetadata;
  const large = size > FILE_READ_BUDGET;
  try {
    if (large) {
      // Only the head: tags at the end (ID3v1, APE) are not seen, and the duration is what the
      // head states, or estimated from the bitrate below.
      const head = createReadStream(file, { start: 0, end: FILE_READ_BUDGET - 1 });
      try {
        metadata = await parseStream(head, { size, path: file });
      } finally {
        head.destroy();
      }
    } else {
      metadata = await parseFile(file);
      // Without a header that states it (an MP3 without a Xing frame, say), the duration is known
      // only by reading the whole stream; pay that only for the files that need it.
      if (!isPositive(metadata.format.duration)) metadata = await parseFile(file, { duration: true });
    }
  } catch (error) {
    warn(file, `cannot read tags: ${messageOf(error)}`);
    return null;
  }

  let seconds = metadata.format.duration;
  if (large && !isPositive(seconds) && metadata.format.codec === undefined) {
    warn(file, `no audio found in its first ${FILE_READ_BUDGET / 1024 / 1024} MiB`);
    return null;
  }
  if (large && !isPositive(seconds) && isPositive(metadata.format.bitrate)) {
    // A large stream whose head does not state its length: assume a constant bitrate, as players do.
    seconds = (size * 8) / metadata.format.bitrate;
  }
  if (!isPositive(seconds) && !large) {
    warn(file, 'no duration (not an audio file, or a damaged one)');
    return null;
  }
  // A large file of audio whose length cannot be told without reading it all: unknown length (0).
  const durationMs = isPositive(seconds) ? Math.max(1, Math.round(seconds * 1000)) : 0;
  if (durationMs > LIMITS.maxDurationMs) {
    warn(file, `duration ${Math.round(durationMs / 1000)} s is longer than the catalog accepts`);
    return null;
  }

  const { common } = metadata;
  const relative = path.relative(root, file);
  const trackId = fileTrackId(relative);
  const fileTitle = cleanText(path.basename(file, path.extname(file)), LIMITS.textMaxLength);
  const track: { -readonly [K in keyof Track]: Track[K] } = {
    trackId,
    title: cleanText(common.title, LIMITS.textMaxLength) || fileTitle || 'Untitled',
    artist:
      cleanText(common.artist, LIMITS.textMaxLength) ||
      cleanText(common.artists?.join(', '), LIMITS.textMaxLength) ||
      cleanText(common.albumartist, LIMITS.textMaxLength) ||
      UNKNOWN_ARTIST,
    album: cleanText(common.album, LIMITS.textMaxLength),
    durationMs,
  };
  const year = yearOf(metadata);
  if (year !== undefined) track.year = year;
  const genre = cleanText(common.genre?.[0], LIMITS.genreMaxLength);
  if (genre !== '') track.genre = genre;
  // The audio is served by id, never by path: no server path ever reaches a client. A file reached
  // through a link that leads out of the folder keeps its metadata but is not served.
  const real = await realpath(file);
  const servable = isInside(realRoot, real);
  if (servable) track.audioUrl = trackAudioUrl(trackId);
  else warn(file, 'links outside the music folder: listed without audio');
  const picture = artworkOf(common.picture);
  if (picture !== undefined) track.artworkUrl = artworkUrl(trackId);

  const problem = checkTrack(track);
  if (problem !== null) {
    // Cleaning above should make this unreachable; keep the scan alive if it is not.
    warn(file, problem.message);
    return null;
  }
  return { track, picture, realFile: servable ? real : undefined };
}

function isPositive(n: number | undefined): n is number {
  return n !== undefined && Number.isFinite(n) && n > 0;
}

function yearOf({ common }: IAudioMetadata): number | undefined {
  const candidates = [common.year, common.originalyear, Number(/^\d{4}/.exec(common.date ?? '')?.[0])];
  return candidates.find((y): y is number => y !== undefined && Number.isInteger(y) && y > 0 && y <= 9999);
}

/**
 * The cover among a file's embedded pictures, with a trustworthy image MIME type: taken from the
 * image's own signature when it has a known one, else from the tag if that names an image type.
 * Pictures that are links rather than data (ID3's "-->") or not images at all are ignored.
 */
function artworkOf(pictures: IPicture[] | undefined): Artwork | undefined {
  const cover = selectCover(pictures);
  if (cover === null || cover.data.byteLength === 0) return undefined;
  const declared = cover.format.toLowerCase();
  const mime = sniffImageType(cover.data) ?? (/^image\/[a-z0-9.+-]+$/.test(declared) ? declared : undefined);
  if (mime === undefined) return undefined;
  // A private copy: the parser's array may be a view into a larger buffer we should not keep alive.
  // (new Uint8Array rather than slice(): on a Buffer, slice() is a view too).
  return { mime: truncate(mime, 100), data: new Uint8Array(cover.data) };
}

function sniffImageType(data: Uint8Array): string | undefined {
  const starts = (...bytes: number[]) => bytes.every((b, i) => data[i] === b);
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'image/gif';
  const isRiff = starts(0x52, 0x49, 0x46, 0x46);
  if (isRiff && String.fromCharCode(...data.subarray(8, 12)) === 'WEBP') return 'image/webp';
  if (starts(0x42, 0x4d)) return 'image/bmp';
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
