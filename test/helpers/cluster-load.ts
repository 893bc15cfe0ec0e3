// Load on a cluster: setupRooms() makes rooms with members, runMixedLoad() runs concurrent clients
// doing adds, votes, withdrawals, removes and reads (choices from a seeded PRNG, so a failing run
// repeats), recording every acknowledged (2xx) write and every write whose outcome is unknown, over
// REST (startMixedLoad) or any transport that answers in its terms (a LoadClient: gRPC in its test).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type RoomView, type SettingsPatch } from '../../src/domain/index.ts';
import { prng } from '../../src/prng.ts';
import { call, errorCode, roomPath, type Reply } from './cluster-http.ts';
import { OPEN_SETTINGS as STORE_OPEN_SETTINGS } from './store-envelopes.ts';

// ---- Rooms and load -------------------------------------------------------------------------------

/**
 * Settings under which adds and votes mostly succeed: the stores' open settings (store-envelopes.ts),
 * public, since a private room opens only with its invite (issue 20) and these rooms are shared freely.
 */
export const OPEN_SETTINGS: SettingsPatch = { ...STORE_OPEN_SETTINGS, public: true };

export interface LoadMember {
  readonly memberId: string;
  readonly token: string;
}

export interface LoadRoom {
  readonly id: string;
  readonly hostToken: string;
  /** One member per client, in client order. */
  readonly members: readonly LoadMember[];
}

/** Creates `rooms` rooms through `base` and joins `clients` members to each, all up front. */
export async function setupRooms(
  base: string,
  options: { rooms: number; clients: number; tag?: string },
): Promise<LoadRoom[]> {
  const tag = options.tag ?? 'load';
  const rooms: LoadRoom[] = [];
  for (let r = 0; r < options.rooms; r++) {
    const id = `${tag}-${r}-${randomUUID().slice(0, 8)}`;
    const created = await call<{ token: string }>(base, 'POST', '/v1/rooms', {
      body: { roomId: id, name: `Room ${id}`, hostName: 'Host', settings: OPEN_SETTINGS },
      key: randomUUID(),
    });
    assert.equal(created.status, 201, `create room ${id}: ${JSON.stringify(created.body)}`);
    const members = await Promise.all(
      Array.from({ length: options.clients }, async (_, c) => {
        const joined = await call<{ memberId: string; token: string }>(
          base,
          'POST',
          roomPath(id, '/members'),
          {
            body: { name: `Client ${c}` },
            key: randomUUID(),
          },
        );
        assert.equal(joined.status, 201, `join ${id}: ${JSON.stringify(joined.body)}`);
        return { memberId: joined.body.memberId, token: joined.body.token };
      }),
    );
    rooms.push({ id, hostToken: created.body.token, members });
  }
  return rooms;
}

export type OpKind = 'add' | 'vote' | 'withdraw' | 'remove' | 'read';

export interface AckedAdd {
  readonly roomId: string;
  readonly entryId: string;
  readonly memberId: string;
  readonly key: string;
  readonly version: number;
}

export interface AckedRemove {
  readonly roomId: string;
  readonly entryId: string;
  readonly key: string;
}

/** One member's votes on one entry: the last acknowledged value and the unknown-outcome ones after it. */
export interface VoteTrack {
  readonly roomId: string;
  readonly memberId: string;
  readonly entryId: string;
  acked: 1 | -1 | 0 | null;
  ackedKey: string | null;
  /** Values sent after the last acknowledged one whose outcome is unknown (5xx, transport). */
  uncertain: Array<1 | -1 | 0>;
}

export interface Failure {
  readonly kind: OpKind;
  readonly status: number;
  readonly code: string;
  /** When the request was sent and answered (ms since epoch). */
  readonly sentAt: number;
  readonly doneAt: number;
  readonly detail: string;
}

export interface LoadResult {
  readonly operations: number;
  readonly durationMs: number;
  readonly counts: Record<OpKind, { ok: number; refused: number; failed: number }>;
  /** `kind status code` -> count, for 4xx answers (expected refusals such as a vote on a removed entry). */
  readonly refusals: Record<string, number>;
  readonly failures: readonly Failure[];
  readonly adds: readonly AckedAdd[];
  readonly removes: readonly AckedRemove[];
  readonly votes: ReadonlyMap<string, VoteTrack>;
  /** Idempotency keys of every remove sent (acknowledged or not). */
  readonly removeKeysSent: ReadonlySet<string>;
  /** Idempotency keys of every acknowledged write. */
  readonly ackedKeys: ReadonlySet<string>;
  /** Highest version seen per room in any 2xx answer. */
  readonly maxVersion: ReadonlyMap<string, number>;
  /** Reads that answered below the client's own minVersion (must be none). */
  readonly readViolations: readonly string[];
  readonly latenciesMs: readonly number[];
}

export interface MixedLoadOptions {
  /** Where requests go (a function, so a test may switch targets). */
  readonly base: string | (() => string);
  readonly rooms: readonly LoadRoom[];
  readonly clients: number;
  /** Total operations over all clients (the load also ends when shouldStop says so). */
  readonly operations: number;
  readonly shouldStop?: () => boolean;
  readonly seed?: number;
  /** Pause after a failed request (5xx or transport), so an outage is not a busy loop. */
  readonly backoffMs?: number;
  readonly timeoutMs?: number;
}

export interface RunningLoad {
  /** Operations answered so far. */
  completed(): number;
  /** Failed operations (5xx or transport) so far. */
  failed(): number;
  readonly done: Promise<LoadResult>;
}

/** What a mixed load records as it runs (the REST load here, the gRPC load in its test alike). */
export interface LoadLedger {
  readonly counts: LoadResult['counts'];
  readonly refusals: Record<string, number>;
  readonly failures: Failure[];
  readonly adds: AckedAdd[];
  readonly removes: AckedRemove[];
  readonly votes: Map<string, VoteTrack>;
  readonly removeKeysSent: Set<string>;
  readonly ackedKeys: Set<string>;
  readonly maxVersion: Map<string, number>;
  readonly readViolations: string[];
  readonly latenciesMs: number[];
  /** Entries believed queued, per room (acknowledged adds minus acknowledged removes). */
  readonly known: Map<string, string[]>;
}

export function newLoadLedger(rooms: readonly { readonly id: string }[]): LoadLedger {
  const none = (): { ok: number; refused: number; failed: number } => ({ ok: 0, refused: 0, failed: 0 });
  return {
    counts: { add: none(), vote: none(), withdraw: none(), remove: none(), read: none() },
    refusals: {},
    failures: [],
    adds: [],
    removes: [],
    votes: new Map(),
    removeKeysSent: new Set(),
    ackedKeys: new Set(),
    maxVersion: new Map(),
    readViolations: [],
    latenciesMs: [],
    known: new Map(rooms.map((r) => [r.id, []])),
  };
}

/** A finished load's result: its ledger, how many operations were answered, since when (ms). */
export function loadResult(ledger: LoadLedger, operations: number, startedAt: number): LoadResult {
  const { known: _known, ...recorded } = ledger;
  return { operations, durationMs: Date.now() - startedAt, ...recorded };
}

/** A track the load adds: its fields, as both APIs take them. */
export interface LoadTrack {
  readonly trackId: string;
  readonly title: string;
  readonly artist: string;
  readonly album: string;
  readonly durationMs: number;
}

/** One answer, in the load's terms: acknowledged, refused (the 4xx of REST) or failed (unknown outcome). */
export type LoadAnswer =
  | {
      readonly kind: 'ok';
      readonly ms: number;
      /** The room's version in the answer (REST: when the body has one). */
      readonly version: unknown;
      /** An add's new entry. */
      readonly entryId: string | undefined;
      /** The whole answer, for failure messages. */
      readonly body: unknown;
    }
  | {
      readonly kind: 'refused';
      readonly ms: number;
      /** `status code` as the transport names them (the refusals table's key after the op). */
      readonly label: string;
      readonly notFound: boolean;
    }
  | {
      readonly kind: 'failed';
      readonly ms: number;
      readonly status: number;
      readonly code: string;
      readonly detail: string;
    };

/** How one client of the mixed load talks to the cluster: REST here, gRPC in grpc-cluster.test.ts. */
export interface LoadClient {
  add(room: LoadRoom, me: LoadMember, key: string, track: LoadTrack): Promise<LoadAnswer>;
  vote(room: LoadRoom, me: LoadMember, key: string, entryId: string, value: 1 | -1 | 0): Promise<LoadAnswer>;
  remove(room: LoadRoom, me: LoadMember, key: string, entryId: string): Promise<LoadAnswer>;
  /** A read in place of a vote or remove that has nothing to act on. */
  readInstead(room: LoadRoom, me: LoadMember): Promise<LoadAnswer>;
  /** A read with the client's last seen version; `violations` gets what broke a session guarantee. */
  read(room: LoadRoom, me: LoadMember, minVersion: number, violations: string[]): Promise<LoadAnswer>;
  close(): void;
}

export interface LoadLoopOptions {
  readonly rooms: readonly LoadRoom[];
  readonly clients: number;
  readonly operations: number;
  readonly seed: number;
  readonly shouldStop?: () => boolean;
  /** Pause after a failed operation (default 25 ms; 0: none), so an outage is not a busy loop. */
  readonly backoffMs?: number;
}

/**
 * `clients` concurrent clients (client c is member c of every room, on a connection of its own),
 * doing a mix of adds (30%), votes (30%), withdrawals (10%), removes of their own entries (8%) and
 * reads (22%) across the rooms, each write with an idempotency key, choices from the seeded PRNG;
 * every answer is recorded in the load's ledger, whichever transport `connect` gives.
 */
export function runMixedLoad(o: LoadLoopOptions, connect: (c: number) => LoadClient): RunningLoad {
  const random = prng(o.seed);
  const pick = <T>(items: readonly T[]): T | undefined =>
    items.length === 0 ? undefined : items[Math.floor(random() * items.length)];
  const ledger = newLoadLedger(o.rooms);
  const { counts, refusals, failures, adds, removes, votes, removeKeysSent, ackedKeys } = ledger;
  const { maxVersion, readViolations, latenciesMs, known } = ledger;
  let issued = 0;
  let answered = 0;
  const started = Date.now();

  const client = async (c: number): Promise<void> => {
    const api = connect(c);
    try {
      const lastVersion = new Map<string, number>();
      const own = new Map<string, string[]>(o.rooms.map((r) => [r.id, []]));
      const myVotes = new Map<string, Set<string>>(o.rooms.map((r) => [r.id, new Set()]));
      while (issued < o.operations && !(o.shouldStop?.() ?? false)) {
        issued++;
        const room = o.rooms[Math.floor(random() * o.rooms.length)]!;
        const me = room.members[c]!;
        const x = random();
        const kind: OpKind =
          x < 0.3 ? 'add' : x < 0.6 ? 'vote' : x < 0.7 ? 'withdraw' : x < 0.78 ? 'remove' : 'read';
        const key = randomUUID();
        const sentAt = Date.now();
        let answer: LoadAnswer;
        let track: VoteTrack | null = null;
        let voteValue: 1 | -1 | 0 = 0;
        let target: string | undefined;
        if (kind === 'add') {
          const durationMs = 60_000 + Math.floor(random() * 240_000);
          answer = await api.add(room, me, key, {
            trackId: `t-${key}`,
            title: `Song ${key.slice(0, 6)}`,
            artist: `Client ${c}`,
            album: 'Load',
            durationMs,
          });
        } else if (kind === 'vote' || kind === 'withdraw') {
          const mine = [...myVotes.get(room.id)!];
          target = kind === 'withdraw' && mine.length > 0 ? pick(mine) : pick(known.get(room.id)!);
          if (target === undefined) {
            // Nothing to vote on yet: read instead.
            answer = await api.readInstead(room, me);
          } else {
            voteValue = kind === 'withdraw' ? 0 : random() < 0.6 ? 1 : -1;
            const vk = `${room.id}|${me.memberId}|${target}`;
            track = votes.get(vk) ?? {
              roomId: room.id,
              memberId: me.memberId,
              entryId: target,
              acked: null,
              ackedKey: null,
              uncertain: [],
            };
            votes.set(vk, track);
            answer = await api.vote(room, me, key, target, voteValue);
          }
        } else if (kind === 'remove') {
          target = pick(own.get(room.id)!);
          if (target === undefined) {
            answer = await api.readInstead(room, me);
          } else {
            removeKeysSent.add(key);
            answer = await api.remove(room, me, key, target);
          }
        } else {
          answer = await api.read(room, me, lastVersion.get(room.id) ?? 0, readViolations);
        }
        answered++;
        latenciesMs.push(answer.ms);
        const effective: OpKind =
          (kind === 'vote' || kind === 'withdraw' || kind === 'remove') && target === undefined
            ? 'read'
            : kind;
        if (answer.kind === 'ok') {
          counts[effective].ok++;
          const version = answer.version;
          if (typeof version === 'number') {
            maxVersion.set(room.id, Math.max(maxVersion.get(room.id) ?? 0, version));
            lastVersion.set(room.id, Math.max(lastVersion.get(room.id) ?? 0, version));
          }
          if (effective !== 'read') ackedKeys.add(key);
          if (effective === 'add') {
            const entryId = answer.entryId;
            assert.ok(entryId, `an add answered without its entry: ${JSON.stringify(answer.body)}`);
            adds.push({ roomId: room.id, entryId, memberId: me.memberId, key, version: version as number });
            known.get(room.id)!.push(entryId);
            own.get(room.id)!.push(entryId);
          } else if (effective === 'remove') {
            removes.push({ roomId: room.id, entryId: target!, key });
            const k = known.get(room.id)!;
            if (k.includes(target!)) k.splice(k.indexOf(target!), 1);
            const mine = own.get(room.id)!;
            mine.splice(mine.indexOf(target!), 1);
          } else if (track) {
            track.acked = voteValue;
            track.ackedKey = key;
            track.uncertain = [];
            if (voteValue === 0) myVotes.get(room.id)!.delete(target!);
            else myVotes.get(room.id)!.add(target!);
          }
        } else if (answer.kind === 'refused') {
          counts[effective].refused++;
          const label = `${effective} ${answer.label}`;
          refusals[label] = (refusals[label] ?? 0) + 1;
          // An entry that is gone (removed by its owner) is dropped from what this client votes on.
          if (answer.notFound && target !== undefined) {
            myVotes.get(room.id)!.delete(target);
            if (effective === 'remove') {
              const mine = own.get(room.id)!;
              mine.splice(mine.indexOf(target), 1);
            }
          }
        } else {
          counts[effective].failed++;
          failures.push({
            kind: effective,
            status: answer.status,
            code: answer.code,
            sentAt,
            doneAt: Date.now(),
            detail: answer.detail,
          });
          if (track) track.uncertain.push(voteValue);
          if (o.backoffMs !== 0) await new Promise((r) => setTimeout(r, o.backoffMs ?? 25));
        }
      }
    } finally {
      api.close();
    }
  };

  const done = Promise.all(Array.from({ length: o.clients }, (_, c) => client(c))).then(() =>
    loadResult(ledger, answered, started),
  );
  return { completed: () => answered, failed: () => failures.length, done };
}

/** A REST reply in the load's terms: 2xx acknowledged, 4xx refused, anything else failed. */
function restAnswer(reply: Reply): LoadAnswer {
  if (reply.status >= 200 && reply.status < 300) {
    return {
      kind: 'ok',
      ms: reply.ms,
      version: (reply.body as { version?: unknown }).version,
      entryId: (reply.body as { entry?: { entryId: string } | null }).entry?.entryId,
      body: reply.body,
    };
  }
  if (reply.status >= 400 && reply.status < 500) {
    return {
      kind: 'refused',
      ms: reply.ms,
      label: `${reply.status} ${errorCode(reply)}`,
      notFound: reply.status === 404,
    };
  }
  return {
    kind: 'failed',
    ms: reply.ms,
    status: reply.status,
    code: errorCode(reply),
    detail: reply.error ?? JSON.stringify(reply.body)?.slice(0, 300) ?? '',
  };
}

/** Client c of the load over REST, to `base()` (a function, so a test may switch targets). */
function restLoadClient(base: () => string, timeoutMs: number, c: number): LoadClient {
  const write = (me: LoadMember, key: string) => ({ token: me.token, key, timeoutMs });
  return {
    add: async (room, me, key, track) =>
      restAnswer(
        await call(base(), 'POST', roomPath(room.id, '/queue'), { ...write(me, key), body: { track } }),
      ),
    vote: async (room, me, key, entryId, value) =>
      restAnswer(
        await call(base(), 'PUT', roomPath(room.id, `/queue/${encodeURIComponent(entryId)}/vote`), {
          ...write(me, key),
          body: { value },
        }),
      ),
    remove: async (room, me, key, entryId) =>
      restAnswer(
        await call(
          base(),
          'DELETE',
          roomPath(room.id, `/queue/${encodeURIComponent(entryId)}`),
          write(me, key),
        ),
      ),
    readInstead: async (room) =>
      restAnswer(await call(base(), 'GET', roomPath(room.id, `?limit=5`), { timeoutMs })),
    read: async (room, me, min, violations) => {
      const reply = await call(base(), 'GET', roomPath(room.id, `?minVersion=${min}&limit=50`), {
        token: me.token,
        timeoutMs,
      });
      if (reply.status === 200) {
        const v = (reply.body as RoomView).version;
        if (!(v >= min)) violations.push(`client ${c} read ${room.id} at version ${v} after seeing ${min}`);
      }
      return restAnswer(reply);
    },
    close: () => undefined,
  };
}

/**
 * `clients` concurrent clients over REST doing the mixed load (runMixedLoad). Reads pass the
 * client's last seen version of the room as minVersion (a session guarantee that must hold
 * whichever node answers).
 */
export function startMixedLoad(options: MixedLoadOptions): RunningLoad {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const base = typeof options.base === 'string' ? () => options.base as string : options.base;
  return runMixedLoad(
    {
      rooms: options.rooms,
      clients: options.clients,
      operations: options.operations,
      seed,
      ...(options.shouldStop ? { shouldStop: options.shouldStop } : {}),
      ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
    },
    (c) => restLoadClient(base, options.timeoutMs ?? 10_000, c),
  );
}

export function summarise(load: LoadResult): string {
  const { counts } = load;
  const rate = Math.round((load.operations / load.durationMs) * 1000);
  const kinds = (Object.keys(counts) as OpKind[])
    .map((k) => `${k} ${counts[k].ok}/${counts[k].refused}/${counts[k].failed}`)
    .join(', ');
  return (
    `${load.operations} ops in ${load.durationMs} ms (${rate}/s); ok/refused/failed: ${kinds}; ` +
    `latency p50 ${percentile(load.latenciesMs, 50).toFixed(1)} ms, p95 ${percentile(load.latenciesMs, 95).toFixed(1)} ms, ` +
    `max ${percentile(load.latenciesMs, 100).toFixed(1)} ms; refusals ${JSON.stringify(load.refusals)}`
  );
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
