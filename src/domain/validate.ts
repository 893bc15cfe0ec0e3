// Shape checks for what enters the state machine. Transports validate with schemas built from the
// same LIMITS, but the state machine checks again: a command may arrive from a log written by an
// older node, a legacy client, or a bug, and a room must never be corrupted by any of them.

import type { ErrorInfo } from './errors.ts';
import { refusal } from './reasons.ts';
import type { Track } from './types.ts';

export const LIMITS = {
  idMaxLength: 128,
  roomIdMaxLength: 64,
  nameMaxLength: 80,
  textMaxLength: 300,
  uriMaxLength: 2048,
  genreMaxLength: 100,
  maxDurationMs: 24 * 3_600_000,
} as const;

/** Room ids are slugs: lower-case letters, digits and inner dashes. */
export const ROOM_ID_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$';
/** Member, entry and command ids. */
export const ID_PATTERN = '^[A-Za-z0-9_.:~-]{1,128}$';

const roomIdRe = new RegExp(ROOM_ID_PATTERN);
const idRe = new RegExp(ID_PATTERN);
// eslint-disable-next-line no-control-regex
const controlRe = /[\u0000-\u001f\u007f]/;

export function checkRoomId(id: unknown): ErrorInfo | null {
  if (typeof id === 'string' && roomIdRe.test(id)) return null;
  return refusal('ROOM_ID_INVALID');
}

export function checkId(field: string, id: unknown): ErrorInfo | null {
  if (typeof id === 'string' && idRe.test(id)) return null;
  return refusal('ID_INVALID', { field });
}

/** A display text: trimmed non-empty (unless optional), bounded, no control characters. */
export function checkText(field: string, value: unknown, max: number, allowEmpty = false): ErrorInfo | null {
  if (typeof value !== 'string') return refusal('TEXT_NOT_STRING', { field });
  if (!allowEmpty && value.trim().length === 0) {
    return refusal('TEXT_EMPTY', { field });
  }
  if (value.length > max) return refusal('TEXT_TOO_LONG', { field, max });
  if (controlRe.test(value)) {
    return refusal('TEXT_CONTROL_CHARACTERS', { field });
  }
  return null;
}

function checkInteger(field: string, value: unknown, min: number, max: number): ErrorInfo | null {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return null;
  return refusal('NUMBER_OUT_OF_RANGE', { field, min, max });
}

export function checkTrack(track: unknown): ErrorInfo | null {
  if (typeof track !== 'object' || track === null || Array.isArray(track)) {
    return refusal('TRACK_NOT_OBJECT');
  }
  const t = track as Record<string, unknown>;
  return (
    checkText('track.trackId', t['trackId'], LIMITS.textMaxLength) ??
    checkText('track.title', t['title'], LIMITS.textMaxLength) ??
    checkText('track.artist', t['artist'], LIMITS.textMaxLength) ??
    checkText('track.album', t['album'], LIMITS.textMaxLength, true) ??
    // 0: the length is not known (it plays until skipped).
    checkInteger('track.durationMs', t['durationMs'], 0, LIMITS.maxDurationMs) ??
    optional(t, 'artworkUrl', (v) => checkText('track.artworkUrl', v, LIMITS.uriMaxLength)) ??
    optional(t, 'year', (v) => checkInteger('track.year', v, 0, 9999)) ??
    optional(t, 'genre', (v) => checkText('track.genre', v, LIMITS.genreMaxLength, true)) ??
    optional(t, 'sourceUri', (v) => checkText('track.sourceUri', v, LIMITS.uriMaxLength)) ??
    optional(t, 'audioUrl', (v) =>
      // Only the node's own audio route for this very track: a page plays what the rooms' tracks
      // point at, so a client must not be able to point it at another site (or another track).
      v === trackAudioUrl(String(t['trackId'])) ? null : refusal('TRACK_AUDIO_URL_INVALID'),
    )
  );
}

/** The path every node serves a music-folder track's audio at (the same on every node). */
export function trackAudioUrl(trackId: string): string {
  return `/v1/tracks/${encodeURIComponent(trackId)}/audio`;
}

function optional(
  obj: Record<string, unknown>,
  key: string,
  check: (value: unknown) => ErrorInfo | null,
): ErrorInfo | null {
  return obj[key] === undefined ? null : check(obj[key]);
}

/** A copy of the track holding only the known fields (a client may send more; we keep what we know). */
export function normaliseTrack(t: Track): Track {
  const out: { -readonly [K in keyof Track]: Track[K] } = {
    trackId: t.trackId,
    title: t.title.trim(),
    artist: t.artist.trim(),
    album: t.album.trim(),
    durationMs: t.durationMs,
  };
  if (t.artworkUrl !== undefined) out.artworkUrl = t.artworkUrl;
  if (t.year !== undefined) out.year = t.year;
  if (t.genre !== undefined) out.genre = t.genre;
  // A file: URI is a server's path (rooms written before audio was served held them): never kept.
  if (t.sourceUri !== undefined && !/^file:/i.test(t.sourceUri)) out.sourceUri = t.sourceUri;
  if (t.audioUrl !== undefined) out.audioUrl = t.audioUrl;
  return out;
}
