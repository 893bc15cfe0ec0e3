// Decoding of stream replies (XREAD, XRANGE) and of log entries. Replies are checked rather than
// cast: a reply of an unexpected shape is a bug or a foreign writer, and must fail loudly.

import type { Envelope } from '../../domain/index.ts';
import { decodeForeignCommand } from '../codec.ts';

/** One log entry: its position in the room's log (the n of id `0-n`) and its raw fields. */
export interface LogEntry {
  readonly seq: number;
  readonly fields: readonly string[];
}

export interface StreamBatch {
  readonly key: string;
  readonly entries: readonly LogEntry[];
}

/** The position of id `0-n`; throws on any other form (this store writes only `0-n`). */
export function seqOf(id: string): number {
  const dash = id.indexOf('-');
  const seq = Number(id.slice(dash + 1));
  if (dash < 0 || id.slice(0, dash) !== '0' || !Number.isSafeInteger(seq) || seq < 1) {
    throw new Error(`unexpected stream entry id ${id}: this store writes ids of the form 0-<n>`);
  }
  return seq;
}

/** The stream id just after which a read must start to get entries after position `seq`. */
export function idOf(seq: number): string {
  return `0-${seq}`;
}

function bad(what: string): Error {
  return new Error(`unexpected reply from Redis to ${what}`);
}

/** XRANGE reply: [[id, [field, value, ...]], ...]. */
export function parseEntries(reply: unknown, what = 'XRANGE'): LogEntry[] {
  if (!Array.isArray(reply)) throw bad(what);
  return reply.map((item: unknown) => {
    if (!Array.isArray(item) || typeof item[0] !== 'string' || !Array.isArray(item[1])) throw bad(what);
    const fields = item[1] as unknown[];
    if (!fields.every((f) => typeof f === 'string')) throw bad(what);
    return { seq: seqOf(item[0]), fields };
  });
}

/** XREAD reply (RESP2): null on timeout, else [[key, entries], ...]. */
export function parseXread(reply: unknown): StreamBatch[] {
  if (reply === null) return [];
  if (!Array.isArray(reply)) throw bad('XREAD');
  return reply.map((item: unknown) => {
    if (!Array.isArray(item) || typeof item[0] !== 'string') throw bad('XREAD');
    return { key: item[0], entries: parseEntries(item[1], 'XREAD') };
  });
}

/** The envelope in an entry, or null when the entry is not one this store can read. */
export function decodeEnvelope(fields: readonly string[]): Envelope | null {
  const at = fields.indexOf('e');
  const json = at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
  return json === undefined ? null : decodeForeignCommand(json);
}

export interface Appended {
  /** Each command's position in the log, or null when it was refused (no such room). */
  readonly seqs: readonly (number | null)[];
  /** The entries after the caller's position up to its last command, when it was not far behind. */
  readonly entries: readonly LogEntry[] | null;
}

/** APPEND reply: [[id or nil per command], entries or nil]. */
export function parseAppend(reply: unknown, commands: number): Appended {
  if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[0])) throw bad('APPEND');
  const ids = reply[0] as unknown[];
  if (ids.length !== commands || !ids.every((id) => id === null || typeof id === 'string')) {
    throw bad('APPEND');
  }
  return {
    seqs: ids.map((id) => (id === null ? null : seqOf(id))),
    entries: reply[1] === null ? null : parseEntries(reply[1], 'APPEND'),
  };
}
