// How every store turns a command into the bytes it orders, and back. A command is encoded once,
// as UTF-8 JSON, and refused when it is larger than any valid command could be (a log record, a
// stream entry, a Raft entry or a 2PC prepare record all carry one). What a store then applies,
// live, is the envelope decoded back from those bytes, never the caller's object: a replay or
// another node only ever sees the bytes, so the live apply must see exactly the same thing.

import { type Envelope, chorusError } from '../domain/index.ts';
import { MAX_RECORD_BYTES } from './disk/log.ts';

/** Largest encoded command: one log record (the domain's limits keep valid commands far below it). */
export const MAX_COMMAND_BYTES = MAX_RECORD_BYTES;

export interface EncodedCommand {
  /** The envelope as it reads back from `json`: what the store applies. */
  readonly env: Envelope;
  readonly json: string;
  readonly bytes: Buffer;
}

/** Encodes a command; throws INVALID_ARGUMENT when it cannot be serialised or is too large. */
export function encodeCommand(env: Envelope): EncodedCommand {
  let json: string | undefined;
  try {
    json = JSON.stringify(env);
  } catch (err) {
    throw chorusError('COMMAND_NOT_SERIALISABLE', { problem: String(err) });
  }
  if (json === undefined) throw chorusError('COMMAND_EMPTY');
  const bytes = Buffer.from(json, 'utf8');
  if (bytes.length > MAX_COMMAND_BYTES) {
    throw chorusError('COMMAND_TOO_LARGE', { bytes: bytes.length, maxBytes: MAX_COMMAND_BYTES });
  }
  return { env: decodeCommand(json), json, bytes };
}

/**
 * The command in an encoded record; throws when the text is not JSON. Whether it is a valid
 * envelope is the state machine's to judge: apply refuses a malformed one, alike everywhere.
 */
export function decodeCommand(json: string): Envelope {
  return JSON.parse(json) as Envelope;
}

/** The command in a record anyone may have written, or null unless it is an object with a commandId. */
export function decodeForeignCommand(json: string): Envelope | null {
  try {
    const value: unknown = decodeCommand(json);
    if (typeof value !== 'object' || value === null || typeof (value as Envelope).commandId !== 'string')
      return null;
    return value as Envelope;
  } catch {
    return null;
  }
}
