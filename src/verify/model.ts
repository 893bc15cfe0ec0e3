// The checker's model of a room: Chorus's own state machine, `apply`, plus what the checker needs
// around it: how a node-built envelope is rebuilt from a recorded call, what of a state or a result
// a client could have seen (to compare with what it did see), and a fingerprint for memoisation.
//
// Timestamps: the node reads its clock for `at`, which a client never learns exactly. The model uses
// the call's invoke time instead. That is sound only while no rule of the room depends on time:
// replay protection off and no track finishing by itself within the history (the checker verifies
// both before it searches, see checker.ts). Under those conditions time only flows into the state as
// data (addedAt, startedAt, ...), so it is left out of every comparison and of the fingerprint.

import {
  apply,
  type CommandValue,
  type Envelope,
  type QueueEntry,
  type RecentCommand,
  type RoomState,
} from '../domain/index.ts';
import type { ObservedEntry, ObservedRoom, ObservedValue, WriteOp } from './history.ts';

/** The envelope the node built for a recorded write, as far as the history tells. */
export function envelopeOf(op: WriteOp): Envelope {
  return {
    commandId: op.commandId,
    roomId: op.room,
    actor: op.actor,
    at: Math.max(0, Math.round(op.invoke)),
    command: op.command,
  };
}

export interface StepResult {
  readonly ok: boolean;
  readonly state: RoomState | null;
}

/**
 * Applies a write at this point of a candidate order; ok when the model's answer is the one the
 * client saw (an unknown outcome accepts any answer).
 */
export function stepWrite(state: RoomState | null, op: WriteOp): StepResult {
  const out = apply(state, envelopeOf(op));
  const seen = op.outcome;
  switch (seen.status) {
    case 'unknown':
      return { ok: true, state: out.state };
    case 'refused':
      return { ok: !out.result.ok && out.result.error.code === seen.code, state: out.state };
    case 'ok': {
      if (!out.result.ok || out.state === null || out.state.version !== seen.version) {
        return { ok: false, state: out.state };
      }
      const ok =
        valueMatches(seen.value, out.result.value, out.state) &&
        (seen.room === undefined || roomMatches(out.state, seen.room));
      return { ok, state: out.state };
    }
    case 'failed':
      // Never applied: the checker drops these before searching.
      return { ok: false, state };
  }
}

function valueMatches(seen: ObservedValue, value: CommandValue, state: RoomState): boolean {
  switch (seen.type) {
    case 'createRoom':
      return value.type === 'createRoom' && value.hostId === seen.hostId;
    case 'join':
      return value.type === 'join' && value.memberId === seen.memberId;
    case 'addTrack': {
      if (value.type !== 'addTrack' || value.entry.entryId !== seen.entryId) return false;
      const index = state.queue.findIndex((e) => e.entryId === seen.entryId);
      return (index < 0 ? null : index + 1) === seen.position;
    }
    case 'removeEntry':
      return value.type === 'removeEntry' && value.entryId === seen.entryId;
    case 'vote':
      return (
        value.type === 'vote' &&
        value.entryId === seen.entryId &&
        value.ups === seen.ups &&
        value.downs === seen.downs &&
        value.effect === seen.effect &&
        (value.position ?? null) === seen.position
      );
    case 'advance':
      return (
        value.type === 'advance' &&
        value.advanced === seen.advanced &&
        (value.ended?.entryId ?? null) === seen.endedEntryId &&
        (value.nowPlaying?.entry.entryId ?? null) === seen.nowPlayingEntryId
      );
    case 'setLocked':
      return value.type === 'setLocked' && value.locked === seen.locked;
  }
}

/** The room as a client sees it, with the whole queue. */
export function observe(state: RoomState): ObservedRoom {
  const entry = (e: QueueEntry): ObservedEntry => ({
    entryId: e.entryId,
    trackId: e.track.trackId,
    ups: e.ups,
    downs: e.downs,
  });
  return {
    version: state.version,
    locked: state.locked,
    playCount: state.playCount,
    memberCount: state.members.size,
    queueLength: state.queue.length,
    queue: state.queue.map(entry),
    nowPlaying: state.nowPlaying ? entry(state.nowPlaying.entry) : null,
  };
}

function sameEntry(a: ObservedEntry | null | undefined, b: ObservedEntry | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.entryId === b.entryId && a.trackId === b.trackId && a.ups === b.ups && a.downs === b.downs;
}

/** Whether a state is the one a client saw: every field the answer carried, the queue window too. */
export function roomMatches(state: RoomState | null, seen: ObservedRoom): boolean {
  if (state === null) return false;
  if (
    state.version !== seen.version ||
    state.locked !== seen.locked ||
    state.playCount !== seen.playCount ||
    state.members.size !== seen.memberCount ||
    state.queue.length !== seen.queueLength ||
    seen.queue.length > state.queue.length
  ) {
    return false;
  }
  const np = state.nowPlaying?.entry;
  const playing = np
    ? { entryId: np.entryId, trackId: np.track.trackId, ups: np.ups, downs: np.downs }
    : null;
  if (!sameEntry(playing, seen.nowPlaying)) return false;
  for (let i = 0; i < seen.queue.length; i++) {
    const e = state.queue.at(i)!;
    const s = seen.queue[i]!;
    if (e.entryId !== s.entryId || e.track.trackId !== s.trackId || e.ups !== s.ups || e.downs !== s.downs) {
      return false;
    }
  }
  return true;
}

// ---- the fingerprint, for memoisation ------------------------------------------------------------
// Clock fields are left out (see the top comment). States are immutable and share their unchanged
// parts, so each part is digested once per object and a state's digest is built from its parts'.
// Digests are 64 bits (two 32-bit FNV-style lanes): a collision would only make the search skip a
// configuration, and at the sizes checked here its odds are below one in a billion.

// Fields that only carry the node's clock: equal states may differ in them (see the top comment).
const TIME_FIELDS = new Set(['addedAt', 'startedAt', 'endedAt', 'joinedAt', 'createdAt', 'at']);

function digest(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  return (a >>> 0).toString(36) + '.' + (b >>> 0).toString(36);
}

function cached<K extends object>(cache: WeakMap<K, string>, key: K, make: (key: K) => string): string {
  let d = cache.get(key);
  if (d === undefined) {
    d = make(key);
    cache.set(key, d);
  }
  return d;
}

type Entry = QueueEntry;
const entryDigests = new WeakMap<Entry, string>();
const listDigests = new WeakMap<object, string>();
const objectDigests = new WeakMap<object, string>();
const recentSums = new WeakMap<RoomState['recent'], readonly [number, number]>();
const stateDigests = new WeakMap<RoomState, string>();

function entryDigest(e: Entry): string {
  return cached(entryDigests, e, () => {
    const votes = e.votes
      .entries()
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return digest(`${e.entryId}|${e.track.trackId}|${e.seq}|${e.addedBy}|${e.ups}|${e.downs}|${votes}`);
  });
}

function queueDigest(queue: RoomState['queue']): string {
  return cached(listDigests, queue, () => digest(queue.map(entryDigest).join(';')));
}

function historyDigest(history: RoomState['history']): string {
  return cached(listDigests, history, () =>
    digest(history.map((r) => `${r.playNo}|${r.entryId}|${r.reason}|${r.ups}|${r.downs}`).join(';')),
  );
}

function membersDigest(members: RoomState['members']): string {
  return cached(objectDigests, members, () =>
    digest(
      members
        .ids()
        .sort()
        .map((k) => `${k}|${members.get(k)!.name}|${members.get(k)!.isHost}`)
        .join(';'),
    ),
  );
}

const rememberedLanes = new WeakMap<RecentCommand, readonly [number, number]>();

/** A remembered command: its id and the answer a retry of it gets (clock fields left out). */
function rememberedDigest(r: RecentCommand): readonly [number, number] {
  let lanes = rememberedLanes.get(r);
  if (lanes === undefined) {
    const text = JSON.stringify(r, (key, value: unknown) => (TIME_FIELDS.has(key) ? undefined : value));
    const [a, b] = digest(text).split('.') as [string, string];
    lanes = [parseInt(a, 36), parseInt(b, 36)];
    rememberedLanes.set(r, lanes);
  }
  return lanes;
}

/**
 * The set of remembered commands (ids and answers: a retry's answer is the remembered one), as two
 * sums of their digests (order does not matter: the window is a set until it is full). Built from the parent's sums when the window only grew by one.
 */
function recentSum(
  recent: RoomState['recent'],
  parent: RoomState['recent'] | undefined,
): readonly [number, number] {
  const known = recentSums.get(recent);
  if (known) return known;
  let sum: [number, number];
  const base = parent ? recentSums.get(parent) : undefined;
  if (base && recent.length === parent!.length + 1 && recent.at(-2) === parent!.at(-1)) {
    const [a, b] = rememberedDigest(recent.at(-1)!);
    sum = [(base[0] + a) % 4294967296, (base[1] + b) % 4294967296];
  } else {
    sum = [0, 0];
    for (const r of recent) {
      const [a, b] = rememberedDigest(r);
      sum = [(sum[0] + a) % 4294967296, (sum[1] + b) % 4294967296];
    }
  }
  recentSums.set(recent, sum);
  return sum;
}

/**
 * A digest of everything in a state that can change a later answer: the room without its clock
 * fields, and the set of remembered commands with their answers (a retry answers from memory).
 * `parent`, the state it was made from, lets the remembered ids be digested incrementally.
 */
export function fingerprint(state: RoomState | null, parent?: RoomState | null): string {
  if (state === null) return 'none';
  return cached(stateDigests, state, () => {
    const np = state.nowPlaying;
    const [ra, rb] = recentSum(state.recent, parent?.recent);
    return [
      state.version,
      state.locked,
      state.playCount,
      state.nextSeq,
      state.hostId,
      cached(objectDigests, state.settings, (x) => digest(JSON.stringify(x))),
      membersDigest(state.members),
      queueDigest(state.queue),
      np ? entryDigest(np.entry) : '-',
      historyDigest(state.history),
      state.recent.length,
      ra,
      rb,
    ].join(':');
  });
}
