// The linearizability checker for room histories (issue 15), after Porcupine (anishathalye/porcupine,
// checker.go): the history is split by room (rooms are independent: P-compositionality), and each
// room's operations are searched with the Wing-Gong/Lowe algorithm: walk the time-ordered list of
// call and return events, linearize a pending call when the model (`apply`, model.ts) gives the
// answer the client saw, backtrack when a return is reached whose operation is not linearized yet,
// and memoise (state, set of linearized operations) so no configuration is explored twice.
//
// What it checks, per room:
// - writes are linearizable: one order of the answered writes (and of any subset of the unknown
//   ones), consistent with real time, replayed through `apply`, gives every answer seen, each with
//   its reported version;
// - every read that returned version V saw exactly the model's room after its V-th change (a node
//   applies the one agreed order), and cannot have seen a write invoked after the read returned;
//   a read's place is otherwise free (plain reads may lag), so reads are not real-time ordered;
// - a read with minVersion M returned a version >= M; plain reads of one client on one node
//   incarnation never go back (below that client's previous read or write answered there);
// - linearizable reads (for stores that offer them) are ordinary operations of the history.
// Unknown writes have no return: they may take effect at any point after their invoke, or never.
// Writes the store refused to order (`failed`) are dropped: they did not happen.
//
// The search is bounded by a deadline; past it the verdict is `unknown`, never a guess. A room whose
// history could contain a change nobody recorded (a track that may have finished by itself, so the
// playback clock advanced the room) is not searched: its verdict is `unknown`, saying why.

import type { RoomState } from '../domain/index.ts';
import type { HistoryOp, ReadOp, WriteOp } from './history.ts';
import { fingerprint, roomMatches, stepWrite } from './model.ts';

export type Result = 'ok' | 'illegal' | 'unknown';

export interface RoomVerdict {
  readonly room: string;
  readonly result: Result;
  readonly operations: number;
  /** Configurations explored (memoised states). */
  readonly explored: number;
  /** Why it is illegal or unknown: the operation the search could not place, or the precondition. */
  readonly reason?: string;
}

export interface Verdict {
  readonly result: Result;
  readonly rooms: readonly RoomVerdict[];
  /** Violations of the promises checked outside the search (minVersion, monotonic reads). */
  readonly violations: readonly string[];
  readonly operations: number;
  readonly elapsedMs: number;
}

export interface CheckOptions {
  /** Give up (verdict unknown) after this long, for the whole history. */
  readonly timeoutMs?: number;
}

export function checkHistory(history: readonly HistoryOp[], options: CheckOptions = {}): Verdict {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 60_000);
  const violations = [...minVersionViolations(history), ...backwardsReads(history)];
  const byRoom = new Map<string, HistoryOp[]>();
  for (const op of history) {
    const list = byRoom.get(op.room) ?? [];
    list.push(op);
    byRoom.set(op.room, list);
  }
  const rooms: RoomVerdict[] = [];
  for (const [room, ops] of [...byRoom].sort(([a], [b]) => a.localeCompare(b))) {
    rooms.push(checkRoom(room, ops, deadline));
  }
  const results = [...rooms.map((r) => r.result), violations.length > 0 ? 'illegal' : 'ok'];
  const result: Result = results.includes('illegal')
    ? 'illegal'
    : results.includes('unknown')
      ? 'unknown'
      : 'ok';
  return { result, rooms, violations, operations: history.length, elapsedMs: Date.now() - started };
}

// ---- promises checked outside the search -------------------------------------------------------

function minVersionViolations(history: readonly HistoryOp[]): string[] {
  const out: string[] = [];
  for (const op of history) {
    if (op.kind !== 'read' || op.outcome.status !== 'ok' || op.minVersion === null) continue;
    if (op.outcome.room.version < op.minVersion) {
      out.push(
        `op ${op.id} (${op.client} on ${op.node}, room ${op.room}): read with minVersion ${op.minVersion} ` +
          `answered version ${op.outcome.room.version}`,
      );
    }
  }
  return out;
}

/** Plain reads never go back for a client on one node (incarnation): compared with its last answer there. */
function backwardsReads(history: readonly HistoryOp[]): string[] {
  const out: string[] = [];
  const seen = new Map<string, { version: number; op: HistoryOp }>();
  const answered = history
    .filter((op) => op.complete !== null && versionOf(op) !== null)
    .sort((a, b) => a.invoke - b.invoke);
  for (const op of answered) {
    const key = `${op.client}\u0000${op.node}\u0000${op.room}`;
    const version = versionOf(op)!;
    const last = seen.get(key);
    // Only a later call is bound: a client's calls may overlap (then neither is "after" the other).
    if (op.kind === 'read' && last && version < last.version && last.op.complete! <= op.invoke) {
      out.push(
        `op ${op.id} (${op.client} on ${op.node}, room ${op.room}): read answered version ${version} ` +
          `after op ${last.op.id} on the same node answered ${last.version}`,
      );
    }
    if (!last || version > last.version) seen.set(key, { version, op });
  }
  return out;
}

function versionOf(op: HistoryOp): number | null {
  if (op.outcome.status !== 'ok') return null;
  return op.kind === 'read' ? op.outcome.room.version : op.outcome.version;
}

// ---- the search ---------------------------------------------------------------------------------

/** An event of the doubly linked list the search walks (dancing links: lift and unlift in O(1)). */
interface Event {
  readonly op: number;
  readonly isReturn: boolean;
  readonly time: number;
  /** A call's return event (null for a read's lone return). */
  match: Event | null;
  prev: Event | null;
  next: Event | null;
}

type OkRead = ReadOp & { outcome: { status: 'ok' } };

/** A room's operations as the search sees them. */
interface Prepared {
  /** Writes and linearizable reads: placed by the search. */
  readonly placed: readonly (WriteOp | ReadOp)[];
  /** Plain and minVersion reads, by the version they returned: checked when the search reaches it. */
  readonly readsAt: ReadonlyMap<number, readonly number[]>;
  readonly reads: readonly ReadOp[];
}

function prepare(ops: readonly HistoryOp[]): Prepared {
  const placed: (WriteOp | ReadOp)[] = [];
  const reads: ReadOp[] = [];
  const trackEntries = new Map<string, string>();
  for (const op of ops) {
    if (op.kind === 'write' && op.command.type === 'addTrack' && op.outcome.status === 'ok') {
      const value = op.outcome.value;
      if (value.type === 'addTrack') trackEntries.set(op.command.track.trackId, value.entryId);
    }
    if (op.kind === 'read' && op.outcome.status === 'ok') {
      for (const e of [...op.outcome.room.queue, op.outcome.room.nowPlaying]) {
        if (e) trackEntries.set(e.trackId, e.entryId);
      }
    }
  }
  for (const op of ops) {
    if (op.kind === 'write') {
      if (op.outcome.status === 'failed') continue;
      placed.push(resolveEntry(op, trackEntries));
    } else if (op.outcome.status === 'ok') {
      if (op.linearizable) placed.push(op);
      else reads.push(op);
    }
  }
  const readsAt = new Map<number, number[]>();
  reads.forEach((r, i) => {
    const v = (r.outcome as { room: { version: number } }).room.version;
    readsAt.set(v, [...(readsAt.get(v) ?? []), placed.length + i]);
  });
  return { placed, readsAt, reads };
}

/**
 * An unanswered add never learned its entry id (the node picks it). Tracks are unique per add in a
 * recorded workload, so a read that shows the track shows the id; otherwise any id will do, since
 * no answer can have mentioned it.
 */
function resolveEntry(op: WriteOp, trackEntries: ReadonlyMap<string, string>): WriteOp {
  if (op.command.type !== 'addTrack' || op.command.entryId !== '') return op;
  const entryId = trackEntries.get(op.command.track.trackId) ?? `e_unseen${op.id}`;
  return { ...op, command: { ...op.command, entryId } };
}

/** Why the history may hold changes nobody recorded (the playback clock's own advance), or null. */
function clockHazard(ops: readonly HistoryOp[]): string | null {
  let first = Infinity;
  let last = -Infinity;
  for (const op of ops) {
    first = Math.min(first, op.invoke);
    last = Math.max(last, op.complete ?? op.invoke);
  }
  for (const op of ops) {
    if (op.kind !== 'write') continue;
    const c = op.command;
    if (c.type === 'addTrack' && c.track.durationMs <= last - first) {
      return `op ${op.id} adds a track of ${c.track.durationMs} ms, shorter than the history (${Math.ceil(last - first)} ms): the playback clock may have advanced the room by itself`;
    }
    if (c.type === 'advance' && c.reason === 'finished') {
      return `op ${op.id} is a 'finished' advance, whose outcome depends on the node's clock`;
    }
    const settings = c.type === 'createRoom' ? c.settings : c.type === 'updateSettings' ? c.patch : undefined;
    if (settings?.replayProtectionMinutes !== undefined && settings.replayProtectionMinutes > 0) {
      return `op ${op.id} turns replay protection on: its outcome depends on the node's clock`;
    }
  }
  return null;
}

class Bitset {
  private readonly words: Uint32Array;
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32) + 1);
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }
  has(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
  key(): string {
    return String.fromCharCode(...new Uint16Array(this.words.buffer));
  }
}

function lift(e: Event): void {
  e.prev!.next = e.next;
  if (e.next) e.next.prev = e.prev;
  if (e.match) {
    e.match.prev!.next = e.match.next;
    if (e.match.next) e.match.next.prev = e.match.prev;
  }
}

function unlift(e: Event): void {
  if (e.match) {
    e.match.prev!.next = e.match;
    if (e.match.next) e.match.next.prev = e.match;
  }
  e.prev!.next = e;
  if (e.next) e.next.prev = e;
}

function describe(op: HistoryOp): string {
  const what =
    op.kind === 'write'
      ? `${op.command.type} ${JSON.stringify(op.outcome)}`
      : `read${op.minVersion === null ? '' : ` minVersion ${op.minVersion}`} version ${(op.outcome as { room?: { version: number } }).room?.version}`;
  return `op ${op.id} (${op.client} on ${op.node}, ${what})`;
}

/** One operation at this point of a candidate order: whether it gives the answer seen, and the room after. */
function tryStep(state: RoomState | null, op: WriteOp | ReadOp): { ok: boolean; state: RoomState | null } {
  if (op.kind === 'read')
    return { ok: op.outcome.status === 'ok' && roomMatches(state, op.outcome.room), state };
  // The version witness, before running the state machine: an answered write took effect as the
  // next change (version + 1) or changed nothing (the version as it is).
  const version = state?.version ?? 0;
  if (op.outcome.status === 'ok' && op.outcome.version !== version && op.outcome.version !== version + 1) {
    return { ok: false, state };
  }
  return stepWrite(state, op);
}

function checkRoom(room: string, ops: readonly HistoryOp[], deadline: number): RoomVerdict {
  const hazard = clockHazard(ops);
  if (hazard) return { room, result: 'unknown', operations: ops.length, explored: 0, reason: hazard };
  const { placed, readsAt, reads } = prepare(ops);
  const all: HistoryOp[] = [...placed, ...reads];
  const unknownOp = (i: number): boolean => {
    const op = all[i]!;
    return op.kind === 'write' && op.outcome.status === 'unknown';
  };

  // The event list: calls and returns of placed operations (unknown ones return at +infinity), and
  // the lone returns of reads (a read has no call: it may have been served from any earlier state).
  const events: Event[] = [];
  placed.forEach((op, i) => {
    const call: Event = { op: i, isReturn: false, time: op.invoke, match: null, prev: null, next: null };
    const ret: Event = {
      op: i,
      isReturn: true,
      // An unknown write returns at +infinity whatever its recorded completion says.
      time: op.kind === 'write' && op.outcome.status === 'unknown' ? Infinity : (op.complete ?? Infinity),
      match: null,
      prev: null,
      next: null,
    };
    call.match = ret;
    events.push(call, ret);
  });
  const readReturn = new Map<number, Event>();
  reads.forEach((op, j) => {
    const ret: Event = {
      op: placed.length + j,
      isReturn: true,
      time: op.complete!,
      match: null,
      prev: null,
      next: null,
    };
    readReturn.set(placed.length + j, ret);
    events.push(ret);
  });
  // Calls before returns at the same instant: touching operations count as concurrent.
  events.sort((a, b) => a.time - b.time || Number(a.isReturn) - Number(b.isReturn) || a.op - b.op);
  const head: Event = { op: -1, isReturn: false, time: -Infinity, match: null, prev: null, next: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const linearized = new Bitset(all.length);
  const cache = new Set<string>();
  // `forced`: an answered operation that left the room unchanged. Placing it as early as it may go
  // loses no solution (moving it earlier keeps every state and every real-time order), so when
  // what follows it fails there is no alternative to try at its place: backtrack past it.
  const calls: { event: Event; state: RoomState | null; reads: readonly number[]; forced: boolean }[] = [];
  let state: RoomState | null = null;
  let entry: Event | null = head.next;
  let steps = 0;
  let deepest = { depth: -1, blocked: -1 };

  // Answered writes not placed yet, by the version they reported: the search never leaves a
  // version while one of them is waiting for it (the version witness, which prunes most of the
  // places an unknown write could otherwise be tried at).
  const answeredWith = (i: number): number | null => {
    const op = all[i]!;
    return op.kind === 'write' && op.outcome.status === 'ok' ? op.outcome.version : null;
  };
  const answeredAt = new Map<number, number>();
  const bump = (i: number, by: number): void => {
    const v = answeredWith(i);
    if (v !== null) answeredAt.set(v, (answeredAt.get(v) ?? 0) + by);
  };
  for (let i = 0; i < placed.length; i++) bump(i, 1);

  const undo = (top: (typeof calls)[number]): void => {
    for (const r of [...top.reads].reverse()) {
      unlift(readReturn.get(r)!);
      linearized.clear(r);
    }
    state = top.state;
    linearized.clear(top.event.op);
    bump(top.event.op, 1);
    unlift(top.event);
  };

  while (head.next !== null) {
    if (++steps % 2048 === 0 && Date.now() > deadline) {
      return {
        room,
        result: 'unknown',
        operations: ops.length,
        explored: cache.size,
        reason: 'the search ran out of time',
      };
    }
    if (entry === null) break;
    if (!entry.isReturn) {
      const op = all[entry.op]!;
      // An unknown write placed now must change the room (see below), which leaves the current
      // version: not while a write answered with it is still waiting. Checked before running apply.
      if (unknownOp(entry.op) && (answeredAt.get(state?.version ?? 0) ?? 0) > 0) {
        entry = entry.next;
        continue;
      }
      const out = tryStep(state, op);
      const unchanged = out.state === state;
      let seenReads: readonly number[] = [];
      // An unknown write that changes nothing here is the same as one that never took effect,
      // which is always allowed: placing it would only multiply the configurations.
      let ok = out.ok && !(unchanged && unknownOp(entry.op));
      if (ok && !unchanged && out.state !== null) {
        // Leaving a version: every write answered with it must be placed by now, as no later
        // state can explain it. Entering the next: every read that returned it saw exactly this room.
        const left = out.state.version - 1;
        ok = (answeredAt.get(left) ?? 0) - (answeredWith(entry.op) === left ? 1 : 0) === 0;
        seenReads = ok ? (readsAt.get(out.state.version) ?? []) : [];
        ok &&= seenReads.every((r) => roomMatches(out.state, (all[r] as OkRead).outcome.room));
      }
      if (ok) {
        linearized.set(entry.op);
        bump(entry.op, -1);
        for (const r of seenReads) linearized.set(r);
        const key = fingerprint(out.state, state) + linearized.key();
        if (!cache.has(key)) {
          cache.add(key);
          calls.push({ event: entry, state, reads: seenReads, forced: unchanged });
          state = out.state;
          lift(entry);
          for (const r of seenReads) lift(readReturn.get(r)!);
          entry = head.next;
          continue;
        }
        linearized.clear(entry.op);
        bump(entry.op, 1);
        for (const r of seenReads) linearized.clear(r);
      }
      entry = entry.next;
    } else {
      // Only unknown operations are left to place (their returns sort last): none of them must be.
      if (unknownOp(entry.op)) break;
      if (calls.length > deepest.depth) deepest = { depth: calls.length, blocked: entry.op };
      let top = calls.pop();
      while (top?.forced) {
        undo(top);
        top = calls.pop();
      }
      if (top === undefined) {
        const blocked = all[deepest.blocked]!;
        return {
          room,
          result: 'illegal',
          operations: ops.length,
          explored: cache.size,
          reason:
            `no order of the room's operations explains ${describe(blocked)}; ` +
            `the longest consistent prefix placed ${deepest.depth} operations`,
        };
      }
      undo(top);
      entry = top.event.next;
    }
  }
  return { room, result: 'ok', operations: ops.length, explored: cache.size };
}
