// Generated room histories for the checker's self-tests and its benchmark: a simulated cluster that
// orders every write at a point inside its call (so the history is linearizable by construction),
// lets reads lag on their node, loses some answers (unknown: applied or not, half and half), refuses
// some writes outright (failed: never applied) and retries some unknown writes with the same
// commandId. A `bug` makes the simulated store break one promise, and the checker must notice.
//
// Deterministic for a seed (its own PRNG); it draws no ids from the system.

import {
  apply,
  type Command,
  type CommandValue,
  type Envelope,
  type RoomState,
  type Track,
} from '../domain/index.ts';
import type { HistoryOp, ObservedValue, ReadOp, WriteOp, WriteOutcome } from './history.ts';
import { observe } from './model.ts';

export type Bug = 'lostWrite' | 'appliedTwice' | 'staleMinVersion' | 'nodesDisagree' | 'wrongEntryVote';

export interface SimOptions {
  readonly seed: number;
  readonly rooms: number;
  /** Operations per room after the set-up (create and joins). */
  readonly opsPerRoom: number;
  /** Clients (members) per room; client 0 is the host. */
  readonly clients?: number;
  readonly nodes?: number;
  /** Share of writes that get no answer. */
  readonly unknownRate?: number;
  readonly failRate?: number;
  readonly readRate?: number;
  readonly bug?: Bug;
}

import { prng } from '../prng.ts';

export { prng };

// The longest track a room allows by default: nothing finishes by itself within a history.
const LONG = 20 * 60_000;

function track(id: string): Track {
  return { trackId: id, title: `Track ${id}`, artist: 'Sim', album: '', durationMs: LONG };
}

interface Slot {
  readonly client: number;
  readonly invoke: number;
  readonly complete: number;
  readonly point: number;
  readonly node: string;
}

/** The history, and in how many rooms the bug (if any) actually struck. */
export function simulate(options: SimOptions): { ops: HistoryOp[]; struck: number } {
  const random = prng(options.seed);
  const ops: HistoryOp[] = [];
  let struck = 0;
  for (let r = 0; r < options.rooms; r++) {
    if (simulateRoom(`room-${r}`, options, random, ops)) struck++;
  }
  return { ops, struck };
}

/** Simulates one room into `ops`; true when the bug struck in it. */
function simulateRoom(roomId: string, o: SimOptions, random: () => number, ops: HistoryOp[]): boolean {
  const clients = o.clients ?? 4;
  const nodes = o.nodes ?? 3;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  let nextId = ops.length;
  let ids = 0;
  const members: string[] = [];
  // Version -> the room at that version, as the one agreed order made it.
  const states: (RoomState | null)[] = [null];
  let cur: RoomState | null = null;
  const changes: Envelope[] = [];
  const commit = (env: Envelope) => {
    const out = apply(cur, env);
    if (out.state !== cur && out.state !== null) {
      changes.push(env);
      states.push(out.state);
    }
    cur = out.state;
    return out;
  };

  // Set-up, one call after the other: the host creates the room, the others join.
  let t = 1_000;
  const setup = (actor: string, command: Command, value: ObservedValue) => {
    const env: Envelope = { commandId: `${roomId}-c${ids++}`, roomId, actor, at: t, command };
    const out = commit(env);
    ops.push({
      kind: 'write',
      id: nextId++,
      client: `${roomId}/setup`,
      node: 'n0',
      room: roomId,
      invoke: t,
      complete: t + 1,
      commandId: env.commandId,
      actor: env.actor,
      command,
      outcome: { status: 'ok', version: out.state!.version, value },
    });
    t += 2;
  };
  members.push(`${roomId}-m0`);
  setup(
    members[0]!,
    {
      type: 'createRoom',
      name: roomId,
      hostName: 'Host',
      settings: { autoplay: false, voteOffThreshold: 2 },
    },
    { type: 'createRoom', hostId: members[0]! },
  );
  for (let c = 1; c < clients; c++) {
    const memberId = `${roomId}-m${c}`;
    setup(members[0]!, { type: 'join', memberId, name: `M${c}` }, { type: 'join', memberId });
    members.push(memberId);
  }
  // Joins act as nobody in particular; the recorded actor of a join is irrelevant to apply.

  // Each client's calls, one after the other, on a node of its choice; ordered at a point inside.
  const slots: Slot[] = [];
  const perClient = Math.ceil(o.opsPerRoom / clients);
  for (let c = 0; c < clients; c++) {
    let at = t + random() * 5;
    for (let k = 0; k < perClient && slots.length < o.opsPerRoom; k++) {
      const duration = 1 + random() * 12;
      slots.push({
        client: c,
        invoke: at,
        complete: at + duration,
        point: at + random() * duration,
        node: `n${Math.floor(random() * nodes)}`,
      });
      at += duration + random() * 4;
    }
  }
  slots.sort((a, b) => a.point - b.point);

  const lastSeen = new Map<string, number>();
  const seenAnywhere = new Map<number, number>();
  const retry = new Map<number, WriteOp>();
  let bugDone = false;
  let disagreeAt: number | null = null;
  const addsByEntry = new Map<string, Envelope>();
  const readRate = o.readRate ?? 0.3;
  // Entry ids some answer has shown: a client can only name those.
  const revealed = new Set<string>();

  for (const slot of slots) {
    const client = `${roomId}/k${slot.client}`;
    const actor = members[slot.client]!;
    const base = { id: nextId++, client, node: slot.node, room: roomId, invoke: slot.invoke };
    const state = cur as RoomState | null;
    if (state === null) throw new Error('the room exists after set-up');

    if (!retry.has(slot.client) && random() < readRate) {
      const key = `${client}@${slot.node}`;
      const useMin = random() < 0.5;
      const minVersion = useMin ? (seenAnywhere.get(slot.client) ?? 0) : null;
      // (Capped by the room: after a lost write a client may have seen a version the room lost.)
      const floor = Math.min(state.version, Math.max(1, minVersion ?? 0, lastSeen.get(key) ?? 0));
      let version = floor + Math.floor(random() * (state.version - floor + 1));
      if (o.bug === 'staleMinVersion' && !bugDone && minVersion !== null && minVersion > 2) {
        version = minVersion - 1;
        bugDone = true;
      }
      const room = observe(states[version]!);
      for (const e of [...room.queue, room.nowPlaying]) if (e) revealed.add(e.entryId);
      lastSeen.set(key, Math.max(lastSeen.get(key) ?? 0, version));
      seenAnywhere.set(slot.client, Math.max(seenAnywhere.get(slot.client) ?? 0, version));
      ops.push({
        ...base,
        kind: 'read',
        complete: slot.complete,
        minVersion,
        linearizable: false,
        outcome: { status: 'ok', room },
      });
      continue;
    }

    // A write: a retry of this client's unknown write, or a new command fitting the room now.
    const again = retry.get(slot.client);
    retry.delete(slot.client);
    let command: Command;
    let commandId: string;
    if (again) {
      commandId = again.commandId;
      command =
        again.command.type === 'addTrack' ? { ...again.command, entryId: `e${ids++}` } : again.command;
    } else {
      commandId = `${roomId}-c${ids++}`;
      command = chooseCommand(
        state,
        revealed,
        actor,
        slot.client === 0,
        random,
        pick,
        () => `${roomId}-${ids++}`,
      );
    }
    const env: Envelope = { commandId, roomId, actor, at: Math.round(slot.point), command };
    const roll = random();
    const unknown = !o.bug && !again && roll < (o.unknownRate ?? 0.05);
    const failed = !unknown && !o.bug && roll < (o.unknownRate ?? 0.05) + (o.failRate ?? 0.03);

    let outcome: WriteOutcome;
    let recorded = command;
    if (failed) {
      outcome = { status: 'failed', code: 'UNAVAILABLE' };
    } else if (unknown) {
      if (random() < 0.5) commit(env);
      outcome = { status: 'unknown', reason: 'timeout' };
      // The client never learned the entry id of an unanswered add.
      if (command.type === 'addTrack') recorded = { ...command, entryId: '' };
    } else {
      const before: RoomState | null = cur;
      let out = commit(env);
      // ---- the simulated store's bugs ----
      if (
        o.bug === 'lostWrite' &&
        !bugDone &&
        out.result.ok &&
        command.type === 'addTrack' &&
        states.length > 8
      ) {
        // Acknowledged, then lost: the room goes on as if it never happened.
        states.pop();
        changes.pop();
        cur = before;
        bugDone = true;
      }
      if (o.bug === 'wrongEntryVote' && !bugDone && command.type === 'vote' && command.value !== 0) {
        const other = before!.queue.find((e) => e.entryId !== command.entryId && e.votes.get(actor) === 0);
        if (other && out.result.ok && out.state !== before) {
          // The answer is the right one, but the room counted the vote on another entry.
          states.pop();
          changes.pop();
          cur = before;
          const answer = out;
          commit({ ...env, command: { ...command, entryId: other.entryId } });
          out = { ...answer, state: cur };
          bugDone = true;
        }
      }
      if (out.result.ok) {
        const v = out.state!.version;
        outcome = { status: 'ok', version: v, value: valueOf(out.result.value, out.state!) };
        if (command.type === 'addTrack' && out.result.value.type === 'addTrack') {
          recorded = { ...command, entryId: out.result.value.entry.entryId };
          addsByEntry.set(out.result.value.entry.entryId, env);
          revealed.add(out.result.value.entry.entryId);
        }
        lastSeen.set(`${client}@${slot.node}`, Math.max(lastSeen.get(`${client}@${slot.node}`) ?? 0, v));
        seenAnywhere.set(slot.client, Math.max(seenAnywhere.get(slot.client) ?? 0, v));
        if (o.bug === 'appliedTwice' && !bugDone && command.type === 'removeEntry') {
          const add = addsByEntry.get(command.entryId);
          if (add && apply(cur, { ...add, commandId: `${add.commandId}-dup` }).state !== cur) {
            // The log held the add twice (the retry was not recognised): the entry is back.
            commit({ ...add, commandId: `${add.commandId}-dup` });
            bugDone = true;
          }
        }
        if (o.bug === 'nodesDisagree' && !bugDone && command.type === 'addTrack' && changes.length >= 2) {
          const [a, b] = changes.slice(-2) as [Envelope, Envelope];
          if (a.command.type === 'addTrack' && a.actor !== b.actor) {
            disagreeAt = changes.length - 2;
            bugDone = true;
          }
        }
      } else {
        outcome = { status: 'refused', code: out.result.error.code };
      }
    }
    const op: WriteOp = {
      ...base,
      kind: 'write',
      complete: outcome.status === 'unknown' ? null : slot.complete,
      commandId,
      actor,
      command: recorded,
      outcome,
    };
    if (outcome.status === 'unknown' && random() < 0.5) retry.set(slot.client, op);
    ops.push(op);
  }

  // The end: every node read once everything is healed.
  const end = Math.max(...ops.map((op) => op.complete ?? op.invoke)) + 10;
  const final = states.length - 1;
  // As the harness does: with minVersion, the newest version any write was answered with.
  const acked = Math.max(
    ...ops
      .filter((op) => op.room === roomId && op.kind === 'write' && op.outcome.status === 'ok')
      .map((op) => (op as { outcome: { version: number } }).outcome.version),
  );
  for (let n = 0; n < nodes; n++) {
    ops.push(finalRead(nextId++, roomId, `n${n}`, end + n, observe(states[final]!), acked));
  }
  if (disagreeAt !== null) {
    // Another node applied the last two adds the other way round, and a read there shows it.
    // At the first add's version it holds the second add instead.
    let s: RoomState | null = null;
    for (const env of [...changes.slice(0, disagreeAt), changes[disagreeAt + 1]!]) s = apply(s, env).state;
    ops.push(finalRead(nextId++, roomId, 'n9', end + nodes, observe(s!), null));
  }
  return bugDone;
}

function finalRead(
  id: number,
  room: string,
  node: string,
  at: number,
  seen: ReturnType<typeof observe>,
  minVersion: number | null,
): ReadOp {
  return {
    kind: 'read',
    id,
    client: `${room}/final`,
    node,
    room,
    invoke: at,
    complete: at + 1,
    minVersion,
    linearizable: false,
    outcome: { status: 'ok', room: seen },
  };
}

function chooseCommand(
  state: RoomState,
  revealed: ReadonlySet<string>,
  actor: string,
  isHost: boolean,
  random: () => number,
  pick: <T>(xs: readonly T[]) => T,
  freshId: () => string,
): Command {
  const entries = [...state.queue, ...(state.nowPlaying ? [state.nowPlaying.entry] : [])].filter((e) =>
    revealed.has(e.entryId),
  );
  const roll = random();
  if (entries.length === 0 || roll < 0.3) {
    const id = freshId();
    return { type: 'addTrack', entryId: `e-${id}`, track: track(`t-${id}`) };
  }
  const entry = pick(entries);
  if (roll < 0.75) return { type: 'vote', entryId: entry.entryId, value: pick([1, -1, 0] as const) };
  if (roll < 0.9 || !isHost) return { type: 'removeEntry', entryId: entry.entryId };
  return { type: 'advance', expectedEntryId: state.nowPlaying?.entry.entryId ?? null, reason: 'skipped' };
}

/** What a transport's answer reveals of a result (the harness records the same). */
export function valueOf(value: CommandValue, state: RoomState): ObservedValue {
  switch (value.type) {
    case 'createRoom':
      return { type: 'createRoom', hostId: value.hostId };
    case 'join':
      return { type: 'join', memberId: value.memberId };
    case 'addTrack': {
      const index = state.queue.findIndex((e) => e.entryId === value.entry.entryId);
      return { type: 'addTrack', entryId: value.entry.entryId, position: index < 0 ? null : index + 1 };
    }
    case 'removeEntry':
      return { type: 'removeEntry', entryId: value.entryId };
    case 'vote':
      return {
        type: 'vote',
        entryId: value.entryId,
        ups: value.ups,
        downs: value.downs,
        effect: value.effect,
        position: value.position ?? null,
      };
    case 'advance':
      return {
        type: 'advance',
        advanced: value.advanced,
        endedEntryId: value.ended?.entryId ?? null,
        nowPlayingEntryId: value.nowPlaying?.entry.entryId ?? null,
      };
    case 'setLocked':
      return { type: 'setLocked', locked: value.locked };
    default:
      throw new Error(`no observed form for ${value.type}`);
  }
}
