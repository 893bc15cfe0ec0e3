// A recorded client history of Chorus rooms: what each call asked, when it was invoked and answered
// (client clock, ms), and what the answer revealed. The checker (checker.ts) reads only this, so a
// history from any transport, any store, or a hand-made test is checked the same way.
//
// Invariants a recorder keeps:
// - a write carries the command as the node built it, as far as the answer revealed it: the member
//   id (the token's), the commandId (the client always sends one as the idempotency key), and the
//   ids the node chose (entryId of an add, memberId of a join) when the answer carried them;
// - `complete` is null exactly when the outcome is `unknown` (no answer: a timeout, a cut
//   connection): such a call may or may not have taken effect, at any time after its invoke;
// - an `ok` write carries the room version its answer reported.

import { readFileSync } from 'node:fs';
import type { Command, ErrorCode } from '../domain/index.ts';

/** A queued or playing entry as a read shows it: the fields every transport carries. */
export interface ObservedEntry {
  readonly entryId: string;
  readonly trackId: string;
  readonly ups: number;
  readonly downs: number;
}

/**
 * A room as a read (or a write answer that includes the room) showed it. `queue` is the window
 * starting at position 1 that the answer carried; `queueLength` is the whole queue's length.
 */
export interface ObservedRoom {
  readonly version: number;
  readonly locked: boolean;
  readonly playCount: number;
  readonly memberCount: number;
  readonly queueLength: number;
  readonly queue: readonly ObservedEntry[];
  readonly nowPlaying: ObservedEntry | null;
}

/** What a write's answer revealed of the command's result, by command type. */
export type ObservedValue =
  | { readonly type: 'createRoom'; readonly hostId: string }
  | { readonly type: 'join'; readonly memberId: string }
  /** position: the entry's 1-based place in the queue after the add; null when it started playing. */
  | { readonly type: 'addTrack'; readonly entryId: string; readonly position: number | null }
  | { readonly type: 'removeEntry'; readonly entryId: string }
  | {
      readonly type: 'vote';
      readonly entryId: string;
      readonly ups: number;
      readonly downs: number;
      readonly effect: 'none' | 'votedOff' | 'skipped';
      readonly position: number | null;
    }
  | {
      readonly type: 'advance';
      readonly advanced: boolean;
      readonly endedEntryId: string | null;
      readonly nowPlayingEntryId: string | null;
    }
  | { readonly type: 'setLocked'; readonly locked: boolean };

export type WriteOutcome =
  /** Answered with a result: the command took effect (or was a no-op) at `version`. */
  | {
      readonly status: 'ok';
      readonly version: number;
      readonly value: ObservedValue;
      readonly room?: ObservedRoom;
    }
  /** The state machine refused it (NOT_FOUND, FAILED_PRECONDITION, ...): ordered, changed nothing. */
  | { readonly status: 'refused'; readonly code: ErrorCode }
  /** The store answered that it could not order the command: nothing was applied (UNAVAILABLE, or 2PC's ABORTED after its lock races). */
  | { readonly status: 'failed'; readonly code: ErrorCode }
  /** No answer, or an answer that does not say whether it was applied (DEADLINE_EXCEEDED). */
  | { readonly status: 'unknown'; readonly reason: string };

export type ReadOutcome =
  | { readonly status: 'ok'; readonly room: ObservedRoom }
  | { readonly status: 'failed' | 'unknown'; readonly reason: string };

interface OpBase {
  /** Unique within the history. */
  readonly id: number;
  readonly client: string;
  /** The node that answered (or was asked): plain reads are promised per node. */
  readonly node: string;
  readonly room: string;
  /** Client clock, ms. */
  readonly invoke: number;
  /** Client clock, ms; null when no answer came. */
  readonly complete: number | null;
}

export interface WriteOp extends OpBase {
  readonly kind: 'write';
  readonly commandId: string;
  readonly actor: string | null;
  readonly command: Command;
  readonly outcome: WriteOutcome;
}

export interface ReadOp extends OpBase {
  readonly kind: 'read';
  /** The minVersion the client passed (null: a plain read). */
  readonly minVersion: number | null;
  /** A read the store promises linearizable (checked as an operation of the history). */
  readonly linearizable: boolean;
  readonly outcome: ReadOutcome;
}

export type HistoryOp = WriteOp | ReadOp;

/** A fault window, for the timeline and the report. */
export interface FaultWindow {
  readonly kind: string;
  readonly target: string;
  readonly start: number;
  readonly end: number;
}

/** Reads a JSONL history: one operation per line (lines with a `fault` field are fault windows). */
export function readHistory(path: string): { ops: HistoryOp[]; faults: FaultWindow[] } {
  const ops: HistoryOp[] = [];
  const faults: FaultWindow[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const item = JSON.parse(line) as HistoryOp | { fault: FaultWindow };
    if ('fault' in item) faults.push(item.fault);
    else ops.push(item);
  }
  return { ops, faults };
}

export function historyLines(ops: readonly HistoryOp[], faults: readonly FaultWindow[]): string {
  return [...ops.map((o) => JSON.stringify(o)), ...faults.map((f) => JSON.stringify({ fault: f }))]
    .map((l) => `${l}\n`)
    .join('');
}
