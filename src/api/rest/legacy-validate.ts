// Validation of the legacy REST requests as the earlier system (FastAPI with pydantic) did it, so
// its clients get the answers they were written against: what it accepted (an id as an integer or a
// string of digits, `up` as any of pydantic's boolean spellings, a missing `up` as true, a missing
// duration as 0) and, for anything else, 422 with `{"detail":[{"loc","msg","type"}]}` naming every
// bad field. The messages and types are pydantic's (v1) own words.

import { ChorusError, LIMITS } from '../../domain/index.ts';
import { LEGACY_MAX_DURATION_S, type LegacyTrackInput } from '../legacy-room.ts';

/** One entry of FastAPI's 422 `detail` list. */
export interface LegacyFieldError {
  readonly loc: readonly (string | number)[];
  readonly msg: string;
  readonly type: string;
}

/** A request the earlier system would have answered 422; carries FastAPI's `detail` list. */
export class LegacyValidationError extends ChorusError {
  readonly detail: readonly LegacyFieldError[];

  constructor(detail: readonly LegacyFieldError[]) {
    const first = detail[0];
    super('INVALID_ARGUMENT', first ? `${first.loc.join('.')}: ${first.msg}` : 'invalid request', {
      detail,
    });
    this.detail = detail;
  }
}

/** Collects field errors; `done` throws them all at once (FastAPI reports every bad field). */
class Checker {
  readonly errors: LegacyFieldError[] = [];

  add(loc: readonly (string | number)[], msg: string, type: string): void {
    this.errors.push({ loc, msg, type });
  }

  missing(loc: readonly (string | number)[]): void {
    this.add(loc, 'field required', 'value_error.missing');
  }

  done(): void {
    if (this.errors.length > 0) throw new LegacyValidationError(this.errors);
  }
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** A track id: a whole number (or a string of digits) from 0 to 15 digits. */
function checkId(c: Checker, loc: readonly (string | number)[], value: unknown): number | null {
  if (value === undefined) return (c.missing(loc), null);
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^-?\d+$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isInteger(n)) return (c.add(loc, 'value is not a valid integer', 'type_error.integer'), null);
  if (n < 0)
    return (c.add(loc, 'ensure this value is greater than or equal to 0', 'value_error.number.not_ge'), null);
  if (n > 999_999_999_999_999) {
    c.add(loc, 'ensure this value is less than or equal to 999999999999999', 'value_error.number.not_le');
    return null;
  }
  return n;
}

function checkText(c: Checker, loc: readonly (string | number)[], value: unknown): string | null {
  if (value === undefined) return (c.missing(loc), null);
  if (typeof value !== 'string') return (c.add(loc, 'str type expected', 'type_error.str'), null);
  if (value.trim().length === 0) {
    c.add(loc, 'ensure this value has at least 1 characters', 'value_error.any_str.min_length');
    return null;
  }
  if (value.length > LIMITS.textMaxLength) {
    c.add(
      loc,
      `ensure this value has at most ${LIMITS.textMaxLength} characters`,
      'value_error.any_str.max_length',
    );
    return null;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    c.add(loc, 'control characters are not allowed', 'value_error.str.regex');
    return null;
  }
  return value;
}

function checkNumber(
  c: Checker,
  loc: readonly (string | number)[],
  value: unknown,
  min: number,
  max: number,
): number | null {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : NaN;
  if (!Number.isFinite(n)) return (c.add(loc, 'value is not a valid integer', 'type_error.integer'), null);
  if (n < min) {
    c.add(loc, `ensure this value is greater than or equal to ${min}`, 'value_error.number.not_ge');
    return null;
  }
  if (n > max) {
    c.add(loc, `ensure this value is less than or equal to ${max}`, 'value_error.number.not_le');
    return null;
  }
  return n;
}

function checkTrack(c: Checker, loc: readonly (string | number)[], body: unknown): LegacyTrackInput | null {
  if (body === undefined) return (c.missing(loc), null);
  if (!isObject(body)) return (c.add(loc, 'value is not a valid dict', 'type_error.dict'), null);
  const before = c.errors.length;
  const id = checkId(c, [...loc, 'id'], body['id']);
  const title = checkText(c, [...loc, 'title'], body['title']);
  const artist = checkText(c, [...loc, 'artist'], body['artist']);
  // Absent or 0: a track of unknown length. Fractional seconds round.
  const duration =
    body['duration'] === undefined || body['duration'] === null
      ? 0
      : checkNumber(c, [...loc, 'duration'], body['duration'], 0, LEGACY_MAX_DURATION_S);
  const votes =
    body['votes'] === undefined || body['votes'] === null
      ? 0
      : checkNumber(c, [...loc, 'votes'], body['votes'], -1_000_000_000, 1_000_000_000);
  if (c.errors.length > before || id === null || title === null || artist === null) return null;
  return { id, title, artist, durationSeconds: duration ?? 0, votes: Math.trunc(votes ?? 0) };
}

/** The body of /add_track: `{id, title, artist, duration?, votes?}` (votes are ignored there). */
export function parseTrackBody(body: unknown): LegacyTrackInput {
  const c = new Checker();
  const track = checkTrack(c, ['body'], body);
  c.done();
  return track!;
}

/** The body of /remove_track and /vote: `{id}`. */
export function parseIdBody(body: unknown): number {
  const c = new Checker();
  let id: number | null = null;
  if (body === undefined) c.missing(['body']);
  else if (!isObject(body)) c.add(['body'], 'value is not a valid dict', 'type_error.dict');
  else id = checkId(c, ['body', 'id'], body['id']);
  c.done();
  return id!;
}

/** The body of /sync: a list of tracks. */
export function parseTrackList(body: unknown): LegacyTrackInput[] {
  const c = new Checker();
  const tracks: LegacyTrackInput[] = [];
  if (body === undefined) c.missing(['body']);
  else if (!Array.isArray(body)) c.add(['body'], 'value is not a valid list', 'type_error.list');
  else
    body.forEach((item: unknown, i) => {
      const t = checkTrack(c, ['body', i], item);
      if (t) tracks.push(t);
    });
  c.done();
  return tracks;
}

/** Most entries one /history page may hold. */
export const LEGACY_HISTORY_PAGE_MAX = 10_000;

/**
 * `/history?offset=&limit=`: a Chorus extension (the earlier API had none, and a client that sends
 * neither gets the whole history as before). offset counts from the oldest play; null: not given.
 */
export function parseHistoryPage(query: unknown): { offset: number; limit: number | null } {
  const q = isObject(query) ? query : {};
  const c = new Checker();
  const one = (v: unknown): unknown => (Array.isArray(v) ? (v.at(-1) as unknown) : v);
  const offset =
    one(q['offset']) === undefined
      ? 0
      : checkNumber(c, ['query', 'offset'], one(q['offset']), 0, Number.MAX_SAFE_INTEGER);
  const limit =
    one(q['limit']) === undefined
      ? null
      : checkNumber(c, ['query', 'limit'], one(q['limit']), 1, LEGACY_HISTORY_PAGE_MAX);
  c.done();
  return { offset: Math.trunc(offset ?? 0), limit: limit === null ? null : Math.trunc(limit) };
}

const TRUE = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const FALSE = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

/** `?up=`: pydantic's boolean spellings, any case; absent means true (the earlier default). */
export function parseUp(value: unknown): boolean {
  const raw = Array.isArray(value) ? (value.at(-1) as unknown) : value;
  if (raw === undefined) return true;
  const text = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  throw new LegacyValidationError([
    { loc: ['query', 'up'], msg: 'value could not be parsed to a boolean', type: 'type_error.bool' },
  ]);
}

/**
 * `/metadata/{id}`: any integer (one that names no track is then 404), or 422 as FastAPI answered
 * for an `int` path parameter. Answered as text, so a long one is not rounded into another id.
 */
export function parsePathId(value: string): string {
  if (/^-?\d+$/.test(value)) return value;
  throw new LegacyValidationError([
    { loc: ['path', 'id'], msg: 'value is not a valid integer', type: 'type_error.integer' },
  ]);
}
