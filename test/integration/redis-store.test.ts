// The redis store against a real redis-server (started here on a free loopback port): the Store
// contract, then what only a shared store has to get right: several nodes on one Redis, snapshots
// and trimmed logs, a node cut off from Redis, and Redis itself restarting under load.

import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { apply, ChorusError, type Envelope, type RoomEvent, type RoomState } from '../../src/domain/index.ts';
import {
  openRedisStore,
  roomKeys,
  type RedisStore,
  type RedisStoreOptions,
} from '../../src/store/redis/index.ts';
import type { CommitOutcome, FeedItem } from '../../src/store/types.ts';
import { freePort } from '../../src/cluster/ports.ts';
import { createTlsFiles, startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { startFaultProxy } from '../../bench/lib/fault-proxy.ts';
import { cmd, envelope, OPEN_SETTINGS, roomId, track } from '../helpers/store-envelopes.ts';
import { accepted, assertMatchesReplay, rejectsWith, runStoreContract } from '../store-contract.ts';
import { until } from '../helpers/until.ts';

let redis: RedisServer;
let admin: Redis;
let prefixes = 0;

before(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url, { protocol: 2, lazyConnect: true });
  await admin.connect();
});

after(async () => {
  admin.disconnect();
  await redis.stop();
});

/** A key prefix of its own per test: stores on one Redis see only their own deployment. */
function freshPrefix(): string {
  prefixes += 1;
  return `t${prefixes}:`;
}

const quiet = { info: () => undefined, warn: () => undefined };

function open(keyPrefix: string, extra: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
  return openRedisStore({ url: redis.url, keyPrefix, logger: quiet, ...extra });
}

async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

async function dropKeys(prefix: string): Promise<void> {
  const keys = await keysUnder(admin, prefix);
  if (keys.length > 0) await admin.del(...keys);
}

/** How often Redis has run each command so far (scripts' commands included), from INFO commandstats. */
async function commandCalls(): Promise<(command: string) => number> {
  const info = await admin.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  return (command) => calls.get(command) ?? 0;
}

/** The room's log as Redis holds it: (position, envelope) pairs. */
async function logOf(
  client: Redis,
  prefix: string,
  room: string,
): Promise<Array<{ seq: number; env: Envelope }>> {
  const entries = (await client.xrange(roomKeys(prefix, room).log, '-', '+')) as Array<[string, string[]]>;
  return entries.map(([id, fields]) => ({
    seq: Number(id.split('-')[1]),
    env: JSON.parse(fields[1]!) as Envelope,
  }));
}

function replayAll(envs: readonly Envelope[]): { state: RoomState | null; events: RoomEvent[] } {
  let state: RoomState | null = null;
  const events: RoomEvent[] = [];
  for (const env of envs) {
    const out = apply(state, env);
    state = out.state;
    events.push(...out.events);
  }
  return { state, events };
}

async function submitAll(
  jobs: ReadonlyArray<{ store: RedisStore; env: Envelope }>,
): Promise<Array<{ env: Envelope; out: CommitOutcome }>> {
  const outs = await Promise.all(jobs.map(({ store, env }) => store.submit(env)));
  return jobs.map(({ env }, i) => ({ env, out: outs[i]! }));
}

/** A node started now, holding nothing yet, loads the room from Redis as `expected`. */
async function assertColdNodeReads(
  opts: RedisStoreOptions,
  room: string,
  version: number,
  expected: RoomState | null | undefined,
): Promise<void> {
  const cold = await openRedisStore(opts);
  try {
    assert.deepEqual(await cold.read(room, version), expected);
  } finally {
    await cold.close();
  }
}

function maxVersion(runs: ReadonlyArray<{ out: CommitOutcome }>): number {
  return Math.max(0, ...runs.map((r) => r.out.state?.version ?? 0));
}

runStoreContract('redis', async () => {
  const keyPrefix = freshPrefix();
  // Small snapshot thresholds, so the contract also runs through snapshots and trimmed logs.
  const store = await open(keyPrefix, { snapshotEvery: 100, retainBehindSnapshot: 20 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropKeys(keyPrefix);
    },
  };
});

void describe('redis store: several nodes on one Redis', () => {
  void test('a write on node A is readable on node B at the same version, and its events reach B', async () => {
    const prefix = freshPrefix();
    const [a, b] = await Promise.all([open(prefix), open(prefix)]);
    try {
      const room = roomId();
      const envs = [cmd.createRoom(room, 'host', OPEN_SETTINGS), cmd.join(room, 'alice')];
      for (const env of envs) await accepted(a, env);
      const atTwo = await b.read(room, 2);
      assert.deepEqual(atTwo, await a.read(room));

      const items: FeedItem[] = [];
      const sub = await b.subscribe(room, 2, (item) => items.push(item));
      const more = [
        cmd.addTrack(room, 'alice', 'e1'),
        cmd.vote(room, 'host', 'e1', 1),
        cmd.join(room, 'bob'),
      ];
      let last: CommitOutcome | undefined;
      for (const env of more) last = await accepted(a, env);
      const expected = replayAll([...envs, ...more]).events.filter((e) => e.version > 2);
      await until('events of A on B', () => items.length === expected.length, { timeoutMs: 5_000 });
      assert.deepEqual(
        items.map((i) => (i.kind === 'event' ? i.event : i)),
        expected,
      );
      assert.deepEqual(await b.read(room, last!.state!.version), last!.state);
      sub.close();
    } finally {
      await Promise.all([a.close(), b.close()]);
      await dropKeys(prefix);
    }
  });

  void test('concurrent writes on both nodes end identical on both and equal to replaying the log', async () => {
    const prefix = freshPrefix();
    const opts = { snapshotEvery: 1_000_000 }; // keep the whole log, to replay it
    const [a, b] = await Promise.all([open(prefix, opts), open(prefix, opts)]);
    try {
      const room = roomId();
      const create = cmd.createRoom(room, 'host', OPEN_SETTINGS);
      await accepted(a, create);
      const node = (i: number): RedisStore => (i % 2 === 0 ? a : b);
      const members = Array.from({ length: 12 }, (_, i) => `m${i}`);
      const runs = await submitAll(members.map((m, i) => ({ store: node(i), env: cmd.join(room, m) })));
      runs.push(
        ...(await submitAll(
          members.flatMap((m, i) => [
            { store: node(i), env: cmd.addTrack(room, m, `${m}-a`) },
            { store: node(i + 1), env: cmd.addTrack(room, m, `${m}-b`) },
            // Every member races for the same track from both nodes: exactly one add wins.
            { store: node(i), env: cmd.addTrack(room, m, `${m}-shared`, 'shared') },
          ]),
        )),
      );
      runs.push(
        ...(await submitAll(
          members.flatMap((m, i) => [
            ...members.map((other, j) => ({
              store: node(i + j),
              env: cmd.vote(room, m, `${other}-a`, (i + j) % 3 === 0 ? -1 : 1),
            })),
            {
              store: node(i + 1),
              env: i % 2 === 0 ? cmd.removeEntry(room, m, `${m}-b`) : cmd.vote(room, m, `${m}-b`, 1),
            },
          ]),
        )),
      );
      const version = maxVersion(runs);
      const [sa, sb] = await Promise.all([a.read(room, version), b.read(room, version)]);
      assert.ok(sa);
      assert.equal(sa.version, version);
      assert.deepEqual(sb, sa, 'both nodes hold the same room at the same version');
      assert.equal(runs.filter((r) => r.env.command.type === 'addTrack' && r.out.result.ok).length, 25);
      // Every answer, from either node, is what apply gives in the one order Redis chose.
      assertMatchesReplay([create], runs, sa);
      const log = await logOf(admin, prefix, room);
      assert.deepEqual(
        log.map((e) => e.seq),
        log.map((_, i) => i + 1),
        'log positions are consecutive from 1',
      );
      assert.deepEqual(replayAll(log.map((e) => e.env)).state, sa, 'the state equals replaying the log');
    } finally {
      await Promise.all([a.close(), b.close()]);
      await dropKeys(prefix);
    }
  });

  void test("a node's own write is answered from its append, without waiting for its tailer", async () => {
    const prefix = freshPrefix();
    // A's tailer pauses a whole second after each read that brings entries.
    const [a, b] = await Promise.all([open(prefix, { tailLingerMs: 1000 }), open(prefix)]);
    try {
      const room = roomId();
      await accepted(b, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      await a.read(room, 1); // A loads the room; its tailer now follows the log
      await accepted(b, cmd.join(room, 'm1'));
      await until('A to hold the room', () => a.loadedRooms().includes(room), { timeoutMs: 5_000 });
      await a.read(room, 2); // A's tailer brought the join, and now lingers
      await accepted(b, cmd.join(room, 'm2')); // written while A's tailer lingers
      const started = performance.now();
      const out = await accepted(a, cmd.join(room, 'm3'));
      const tookMs = performance.now() - started;
      assert.equal(out.state?.version, 4, "A's answer follows B's join it had not read yet");
      assert.deepEqual((out.state?.members.ids() ?? []).sort(), ['host', 'm1', 'm2', 'm3']);
      assert.ok(tookMs < 500, `answered in ${tookMs.toFixed(0)} ms, not after the tailer's 1000 ms pause`);
      const [sa, sb] = await Promise.all([a.read(room, 4), b.read(room, 4)]);
      assert.deepEqual(sa, sb);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await dropKeys(prefix);
    }
  });

  void test('appends made together go as one pipeline, and survive an emptied script cache', async () => {
    const prefix = freshPrefix();
    const [a, b] = await Promise.all([open(prefix, { snapshotEvery: 1_000_000 }), open(prefix)]);
    try {
      const rooms = [roomId(), roomId(), roomId()];
      const creates = rooms.map((r) => cmd.createRoom(r, 'host', OPEN_SETTINGS));
      await Promise.all(creates.map((c) => accepted(a, c)));
      await admin.call('SCRIPT', 'FLUSH'); // as after a Redis restart: every EVALSHA gets NOSCRIPT
      const runs = await submitAll(
        rooms.flatMap((r) =>
          Array.from({ length: 15 }, (_, i) => ({ store: i % 3 === 0 ? b : a, env: cmd.join(r, `m${i}`) })),
        ),
      );
      assert.ok(
        runs.every((r) => r.out.result.ok),
        'every join accepted',
      );
      for (const [i, r] of rooms.entries()) {
        const [sa, sb] = await Promise.all([a.read(r, 16), b.read(r, 16)]);
        assert.equal(sa?.version, 16);
        assert.deepEqual(sb, sa);
        const log = await logOf(admin, prefix, r);
        assert.deepEqual(
          log.map((e) => e.seq),
          log.map((_, k) => k + 1),
        );
        assertMatchesReplay(
          [creates[i]!],
          runs.filter((x) => x.env.roomId === r),
          sa,
        );
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
      await dropKeys(prefix);
    }
  });

  void test('commands made together for one room go as one script call whose reply brings each entry once', async () => {
    const prefix = freshPrefix();
    const a = await open(prefix);
    try {
      const room = roomId();
      await accepted(a, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      const before = await commandCalls();
      // Submitted in one turn of the event loop, as a busy node parses many requests in one turn.
      const outs = await Promise.all(Array.from({ length: 20 }, (_, i) => a.submit(cmd.join(room, `m${i}`))));
      const after = await commandCalls();
      assert.ok(outs.every((o) => o.result.ok));
      assert.deepEqual(
        outs.map((o) => o.state?.version),
        outs.map((_, i) => i + 2),
        'each answer is the state right after its own command, in the order submitted',
      );
      assert.equal(after('xadd') - before('xadd'), 20);
      // One catch-up read for the twenty (one per command would send back 1 + 2 + ... + 20 entries).
      assert.equal(after('xrange') - before('xrange'), 1);
    } finally {
      await a.close();
      await dropKeys(prefix);
    }
  });

  void test('the conditional advance takes effect once per track, whichever nodes propose it', async () => {
    const prefix = freshPrefix();
    const nodes = await Promise.all([open(prefix), open(prefix), open(prefix)]);
    const a = nodes[0];
    try {
      const room = roomId();
      await accepted(a, cmd.createRoom(room, 'host', { autoplay: true, maxEntriesPerMember: 0 }));
      const tracks = 6;
      let version = 0;
      for (let i = 0; i < tracks; i++) {
        const out = await accepted(
          a,
          envelope(room, 'host', { type: 'addTrack', entryId: `e${i}`, track: track(`t${i}`, 1000) }),
        );
        version = out.state!.version;
      }
      for (let round = 0; round < tracks; round++) {
        // Each node proposes from its own view of what is playing, twice, all at once.
        const views = await Promise.all(nodes.map((n) => n.read(room, version)));
        const proposals = views.flatMap((view, i) => {
          const playing = view!.nowPlaying!;
          const at = playing.startedAt + playing.entry.track.durationMs + 1;
          const advance = (): Envelope =>
            envelope(
              room,
              null,
              { type: 'advance', expectedEntryId: playing.entry.entryId, reason: 'finished' },
              at,
            );
          return [
            { store: nodes[i]!, env: advance() },
            { store: nodes[i]!, env: advance() },
          ];
        });
        const runs = await submitAll(proposals);
        const advanced = runs.filter(
          (r) => r.out.result.ok && r.out.result.value.type === 'advance' && r.out.result.value.advanced,
        );
        assert.equal(advanced.length, 1, `round ${round}: exactly one of ${runs.length} proposals advances`);
        for (const r of runs) assert.ok(r.out.result.ok, JSON.stringify(r.out.result));
        version = maxVersion(runs);
      }
      const states = await Promise.all(nodes.map((n) => n.read(room, version)));
      for (const s of states) assert.deepEqual(s, states[0]);
      const history = states[0]!.history;
      assert.deepEqual(
        history.map((h) => [h.entryId, h.reason]),
        Array.from({ length: tracks }, (_, i) => [`e${i}`, 'finished']),
      );
      assert.equal(states[0]!.nowPlaying, null);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      await dropKeys(prefix);
    }
  });

  void test('a cold node loads from the snapshot and the trimmed log, equal to a node that saw everything', async () => {
    const prefix = freshPrefix();
    const opts = { snapshotEvery: 20, retainBehindSnapshot: 5 };
    // The watcher reads again at once: with only 5 entries kept behind a snapshot, even its default
    // 2 ms pause lets the writer trim past it, and it would rightly reset (tested further down).
    const [writer, watcher] = await Promise.all([
      open(prefix, opts),
      open(prefix, { ...opts, tailLingerMs: 0 }),
    ]);
    let cold: RedisStore | undefined;
    try {
      const room = roomId();
      const envs = [cmd.createRoom(room, 'host', OPEN_SETTINGS)];
      await accepted(writer, envs[0]!);
      const seen: FeedItem[] = [];
      const sub = await watcher.subscribe(room, 0, (item) => seen.push(item));
      const members = Array.from({ length: 10 }, (_, i) => `m${i}`);
      const waves: Envelope[][] = [
        members.map((m) => cmd.join(room, m)),
        members.flatMap((m) => [cmd.addTrack(room, m, `${m}-1`), cmd.addTrack(room, m, `${m}-2`)]),
        members.flatMap((m) => members.map((o) => cmd.vote(room, m, `${o}-1`, 1))),
        members.map((m) => cmd.removeEntry(room, m, `${m}-2`)),
      ];
      const runs: Array<{ env: Envelope; out: CommitOutcome }> = [];
      for (const wave of waves) {
        for (let i = 0; i < wave.length; i += 10) {
          runs.push(...(await submitAll(wave.slice(i, i + 10).map((env) => ({ store: writer, env })))));
        }
      }
      const version = maxVersion(runs);
      const total = 1 + runs.length;

      const keys = roomKeys(prefix, room);
      // One atomic look at both keys: snapshots are written in the background and may move on.
      const [[, seqRaw], [, rawLog]] = (await admin
        .multi()
        .hget(keys.snap, 'seq')
        .xrange(keys.log, '-', '+')
        .exec()) as [[Error | null, string], [Error | null, Array<[string, string[]]>]];
      const snapSeq = Number(seqRaw);
      const log = rawLog.map(([id]) => ({ seq: Number(id.split('-')[1]) }));
      assert.ok(
        snapSeq >= total - 2 * opts.snapshotEvery,
        `a recent snapshot exists (at ${snapSeq} of ${total})`,
      );
      assert.ok(
        log[0]!.seq > 1 && log.length < total / 2,
        `the log was trimmed (${log.length} of ${total} left)`,
      );
      assert.equal(log[0]!.seq, snapSeq - opts.retainBehindSnapshot + 1, 'trimmed to the retained tail');

      cold = await open(prefix, opts);
      const [coldState, watched, written] = await Promise.all([
        cold.read(room, version),
        watcher.read(room, version),
        writer.read(room, version),
      ]);
      assert.equal(written?.version, version);
      assert.deepEqual(coldState, written);
      assert.deepEqual(watched, written);
      // The accepted commands replayed by the state machine give the same room.
      assertMatchesReplay([envs[0]!], runs, coldState);
      // The watcher saw every event, none skipped.
      const events = seen.map((i) => (i.kind === 'event' ? i.event.version : -1));
      await until('the watcher feed', () => seen.length > 0 && seen.at(-1)!.kind === 'event', {
        timeoutMs: 5_000,
      });
      assert.equal(events.at(-1), version);
      assert.ok(
        events.every((v, i) => i === 0 || v === events[i - 1] || v === events[i - 1]! + 1),
        'no gap',
      );
      // The cold node no longer has the early events: a subscriber from 0 gets a reset first.
      const coldItems: FeedItem[] = [];
      const coldSub = await cold.subscribe(room, 0, (item) => coldItems.push(item));
      assert.equal(coldItems[0]?.kind, 'reset');
      assert.deepEqual(coldItems[0]?.kind === 'reset' && coldItems[0].state, written);
      coldSub.close();
      sub.close();
    } finally {
      await Promise.all([writer.close(), watcher.close(), cold?.close()]);
      await dropKeys(prefix);
    }
  });

  void test('a node cut off from Redis refuses writes fast, keeps reading, then resyncs past the trimmed log', async () => {
    const prefix = freshPrefix();
    const opts = { snapshotEvery: 20, retainBehindSnapshot: 5, commandTimeoutMs: 500 };
    const proxy = await startFaultProxy(redis.port);
    const a = await open(prefix, opts);
    const cutOff = await open(prefix, { ...opts, url: `redis://127.0.0.1:${proxy.port}` });
    try {
      const room = roomId();
      await accepted(a, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      const before = await cutOff.read(room, 1);
      const items: FeedItem[] = [];
      const sub = await cutOff.subscribe(room, 1, (item) => items.push(item));

      proxy.cut();
      await until('the node to notice', () => !cutOff.health().ready, { timeoutMs: 5_000 });
      assert.match(cutOff.health().detail, /unreachable/);
      const started = Date.now();
      await rejectsWith(cutOff.submit(cmd.join(room, 'nope')), 'UNAVAILABLE');
      assert.ok(Date.now() - started < 500, 'the write failed fast');
      assert.deepEqual(await cutOff.read(room), before, 'reads serve the last applied state');
      const staleSince = cutOff.lastSyncAt;

      // Meanwhile the room moves on, past several snapshots: the log is trimmed beyond the cut-off node.
      const runs = await submitAll(
        Array.from({ length: 60 }, (_, i) => ({ store: a, env: cmd.join(room, `j${i}`) })),
      );
      const version = maxVersion(runs);
      assert.ok(cutOff.lastSyncAt === staleSince, 'staleness is visible while cut off');

      proxy.restore();
      const caughtUp = await cutOff.read(room, version, 10_000);
      assert.deepEqual(caughtUp, await a.read(room, version));
      await until('the node to report ready again', () => cutOff.health().ready, { timeoutMs: 5_000 });
      // Its subscriber was reset (the events it missed are gone), then followed along.
      assert.ok(
        items.some((i) => i.kind === 'reset'),
        'a reset was delivered',
      );
      await accepted(cutOff, cmd.join(room, 'back'));
      await until(
        'the live event',
        () =>
          items.at(-1)?.kind === 'event' &&
          (items.at(-1) as { event: RoomEvent }).event.version === version + 1,
        { timeoutMs: 5_000 },
      );
      assert.equal((await a.read(room, version + 1))?.members.get('back')?.name, 'Member back');
      sub.close();
    } finally {
      await Promise.all([a.close(), cutOff.close()]);
      await proxy.close();
      await dropKeys(prefix);
    }
  });

  void test('commands and reads for unknown rooms create no keys', async () => {
    const prefix = freshPrefix();
    const store = await open(prefix);
    try {
      const ghost = roomId('ghost');
      const refused = [
        cmd.join(ghost, 'alice'),
        cmd.addTrack(ghost, 'alice', 'e1'),
        cmd.vote(ghost, 'alice', 'e1', 1),
        envelope(ghost, null, { type: 'advance', expectedEntryId: null, reason: 'finished' }),
      ];
      for (const env of refused) {
        const out = await store.submit(env);
        assert.equal(!out.result.ok && out.result.error.code, 'NOT_FOUND');
        assert.equal(out.state, null);
      }
      // Refused without ordering: a bad room id, and a createRoom no room could accept.
      const badId = await store.submit(cmd.createRoom('Not A Slug!', 'host'));
      assert.equal(!badId.result.ok && badId.result.error.code, 'INVALID_ARGUMENT');
      const badName = await store.submit(
        envelope(ghost, 'host', { type: 'createRoom', name: ' ', hostName: 'h' }),
      );
      assert.equal(!badName.result.ok && badName.result.error.code, 'INVALID_ARGUMENT');
      assert.equal(await store.read(ghost), null);
      assert.equal(await store.read('{not-a-room}'), null);
      await rejectsWith(
        store.subscribe(ghost, 0, () => undefined),
        'NOT_FOUND',
      );
      assert.deepEqual(await store.listRooms(10), []);
      assert.deepEqual(await keysUnder(admin, prefix), [], 'no key was created');

      // A room that is created gets exactly its log, and is listed.
      const room = roomId();
      await accepted(store, cmd.createRoom(room, 'host'));
      assert.deepEqual(await keysUnder(admin, prefix), [
        roomKeys(prefix, room).log,
        `${prefix}{rooms}:listing`,
        `${prefix}{rooms}:public`,
      ]);
    } finally {
      await store.close();
      await dropKeys(prefix);
    }
  });

  void test('idle rooms are unloaded and load again on demand; subscribed rooms stay', async () => {
    const prefix = freshPrefix();
    const store = await open(prefix, { idleEvictMs: 200 });
    const other = await open(prefix);
    try {
      const [idle, watched] = [roomId('idle'), roomId('watched')];
      await accepted(store, cmd.createRoom(watched, 'host'));
      await accepted(store, cmd.createRoom(idle, 'host'));
      const sub = await store.subscribe(watched, 1, () => undefined);
      await until('the idle room to be unloaded', () => !store.loadedRooms().includes(idle), {
        timeoutMs: 3000,
      });
      assert.ok(store.loadedRooms().includes(watched), 'a subscribed room is kept');
      // Changed elsewhere while unloaded here: loading again brings it up to date.
      const out = await accepted(other, cmd.join(idle, 'alice'));
      assert.deepEqual(await store.read(idle, out.state!.version), out.state);
      assert.ok(store.loadedRooms().includes(idle));
      sub.close();
    } finally {
      await Promise.all([store.close(), other.close()]);
      await dropKeys(prefix);
    }
  });

  void test('listRooms on another node sees new rooms and settings changes', async () => {
    const prefix = freshPrefix();
    const [a, b] = await Promise.all([open(prefix), open(prefix)]);
    try {
      const [first, second] = [roomId('first'), roomId('second')];
      await accepted(a, cmd.createRoom(first, 'host'));
      await accepted(a, cmd.createRoom(second, 'host'));
      assert.deepEqual(
        (await b.listRooms(10)).map((r) => r.id),
        [second, first],
      );
      await accepted(a, envelope(first, 'host', { type: 'updateSettings', patch: { public: false } }));
      assert.deepEqual(
        (await b.listRooms(10)).map((r) => r.id),
        [second],
      );
      assert.equal((await a.listRooms(1))[0]?.id, second);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await dropKeys(prefix);
    }
  });
});

void describe('redis store: Redis restarts under load', () => {
  void test('writes fail fast while Redis is down, reads keep answering, and nothing acknowledged is lost', async () => {
    // Every acknowledged write is fsynced before Redis answers, so even SIGKILL loses none.
    const server = await startRedis({ appendonly: true, appendfsync: 'always' });
    const prefix = freshPrefix();
    const opts: RedisStoreOptions = {
      url: server.url,
      keyPrefix: prefix,
      logger: quiet,
      commandTimeoutMs: 500,
      snapshotEvery: 50,
      retainBehindSnapshot: 10,
    };
    const [a, b] = await Promise.all([openRedisStore(opts), openRedisStore(opts)]);
    try {
      const room = roomId();
      await accepted(a, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      const members = Array.from({ length: 6 }, (_, i) => `w${i}`);
      for (const m of members) await accepted(a, cmd.join(room, m));

      interface Attempt {
        env: Envelope;
        started: number;
        ended: number;
        out?: CommitOutcome;
        error?: ChorusError;
      }
      const attempts: Attempt[] = [];
      let running = true;
      const worker = async (member: string, index: number): Promise<void> => {
        for (let i = 0; running; i++) {
          const store = (index + i) % 2 === 0 ? a : b;
          const attempt: Attempt = {
            env: cmd.addTrack(room, member, `${member}-${i}`),
            started: Date.now(),
            ended: 0,
          };
          try {
            attempt.out = await store.submit(attempt.env);
          } catch (err) {
            if (!(err instanceof ChorusError)) throw err;
            attempt.error = err;
          }
          attempt.ended = Date.now();
          attempts.push(attempt);
          if (attempt.error) await new Promise((resolve) => setTimeout(resolve, 5));
        }
      };
      const acked = (): Attempt[] => attempts.filter((x) => x.out?.result.ok);
      const workers = members.map((m, i) => worker(m, i));

      await until('acknowledged writes before the crash', () => acked().length >= 60, { timeoutMs: 10_000 });
      await server.halt({ signal: 'SIGKILL' });
      await until('both nodes to notice', () => !a.health().ready && !b.health().ready, { timeoutMs: 5_000 });
      const down = Date.now();
      await until('writes during the outage', () => attempts.filter((x) => x.started > down).length >= 20, {
        timeoutMs: 10_000,
      });
      const during = attempts.filter((x) => x.started > down);
      for (const x of during) {
        assert.equal(x.error?.code, 'UNAVAILABLE', 'a write while Redis is down is refused');
        assert.ok(x.ended - x.started < 300, `refused fast (${x.ended - x.started} ms)`);
      }
      const readStarted = Date.now();
      const stale = await b.read(room);
      assert.ok(stale && stale.version > 60, 'reads answer from the last applied state');
      assert.ok(Date.now() - readStarted < 100);
      assert.match(b.health().detail, /unreachable/);

      await server.resume();
      await until('both nodes to reconnect by themselves', () => a.health().ready && b.health().ready, {
        timeoutMs: 10_000,
      });
      const back = Date.now();
      await until('writes after the restart', () => acked().filter((x) => x.started > back).length >= 60, {
        timeoutMs: 15_000,
      });
      running = false;
      await Promise.all(workers);

      const version = maxVersion(attempts.flatMap((x) => (x.out ? [{ out: x.out }] : [])));
      const [sa, sb] = await Promise.all([a.read(room, version, 10_000), b.read(room, version, 10_000)]);
      assert.ok(sa);
      assert.deepEqual(sb, sa, 'both nodes agree after the restart');
      const queued = new Set(sa.queue.map((e) => e.entryId));
      for (const x of acked()) {
        assert.ok(
          queued.has((x.env.command as { entryId: string }).entryId),
          `acknowledged ${x.env.commandId} kept`,
        );
      }
      for (const x of attempts.filter((y) => y.error?.code === 'UNAVAILABLE')) {
        assert.ok(
          !queued.has((x.env.command as { entryId: string }).entryId),
          'a write refused UNAVAILABLE never applies',
        );
      }
      for (const x of attempts.filter((y) => y.error)) {
        assert.ok(['UNAVAILABLE', 'DEADLINE_EXCEEDED'].includes(x.error!.code), x.error!.message);
      }
      // A third node, cold, loads the same room from what Redis kept.
      await assertColdNodeReads(opts, room, version, sa);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await server.stop();
    }
  });
});

void describe('redis store: Redis comes back with less than the nodes applied', () => {
  const trackIds = (state: RoomState | null): string[] =>
    (state?.queue ?? []).map((e) => e.track.trackId).sort();

  /** Store options on `server` whose logger keeps the warnings, for the test to read. */
  function keepingWarnings(server: RedisServer): { opts: RedisStoreOptions; warnings: string[] } {
    const warnings: string[] = [];
    const logger = { info: () => undefined, warn: (_: object, message = '') => void warnings.push(message) };
    return { opts: { url: server.url, keyPrefix: freshPrefix(), logger, commandTimeoutMs: 500 }, warnings };
  }

  function assertWarned(warnings: readonly string[], room: string, text: string): void {
    assert.ok(
      warnings.some((w) => w.includes(`room ${room}`) && w.includes(text)),
      `a warning names room ${room} and says "${text}":\n${warnings.join('\n')}`,
    );
  }

  /**
   * Saves what Redis holds now. The function returned crashes Redis and starts it again from that
   * copy, as a restore from an older backup (or a failover to a replica that lagged) leaves it.
   */
  async function backup(server: RedisServer): Promise<() => Promise<void>> {
    const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      await admin.call('SAVE');
    } finally {
      admin.disconnect();
    }
    const dump = path.join(server.dataDir, 'dump.rdb');
    const copy = path.join(server.dataDir, 'backup.rdb');
    await copyFile(dump, copy);
    return async () => {
      await server.halt({ signal: 'SIGKILL' });
      await copyFile(copy, dump);
      await server.resume();
    };
  }

  void test('restarted from an older backup: every node follows what Redis holds, and they agree again', async () => {
    const server = await startRedis();
    const { opts, warnings } = keepingWarnings(server);
    const [a, b] = await Promise.all([openRedisStore(opts), openRedisStore(opts)]);
    try {
      const room = roomId();
      await accepted(a, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      for (let i = 0; i < 4; i++) await accepted(a, cmd.addTrack(room, 'host', `kept-${i}`));
      const restoreBackup = await backup(server);
      const saved = (await a.read(room))!;

      // Acknowledged, applied on both nodes, and then lost by Redis.
      for (let i = 0; i < 4; i++) await accepted(b, cmd.addTrack(room, 'host', `lost-${i}`));
      const newest = (await b.read(room))!.version;
      assert.equal((await a.read(room, newest, 5000))?.version, newest);
      await restoreBackup();

      // Without any write, both nodes go back to what Redis holds once they reconnect.
      await until(
        'both nodes to follow the restored log',
        async () =>
          (await a.read(room))?.version === saved.version && (await b.read(room))?.version === saved.version,
      );
      assert.deepEqual(await a.read(room), saved);
      assert.deepEqual(await b.read(room), saved);
      assertWarned(warnings, room, 'Redis lost writes');

      // Writes land again, on the log Redis has, and a cold node agrees with both.
      await until('both nodes ready', () => a.health().ready && b.health().ready, { timeoutMs: 5_000 });
      const out = await accepted(a, cmd.addTrack(room, 'host', 'after'));
      await accepted(b, cmd.addTrack(room, 'host', 'after-b'));
      const version = out.state!.version + 1;
      const [sa, sb] = await Promise.all([a.read(room, version, 5000), b.read(room, version, 5000)]);
      assert.deepEqual(sb, sa);
      assert.deepEqual(trackIds(sa), ['after', 'after-b', 'kept-0', 'kept-1', 'kept-2', 'kept-3']);
      await assertColdNodeReads(opts, room, version, sa);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await server.stop();
    }
  });

  void test('a node away while the restored log grew past it notices the rewrite before applying more', async () => {
    const server = await startRedis();
    const proxy = await startFaultProxy(server.port);
    const { opts, warnings } = keepingWarnings(server);
    const b = await openRedisStore(opts);
    const away = await openRedisStore({ ...opts, url: `redis://127.0.0.1:${proxy.port}` });
    try {
      const room = roomId();
      await accepted(b, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      for (let i = 0; i < 3; i++) await accepted(b, cmd.addTrack(room, 'host', `kept-${i}`));
      const restoreBackup = await backup(server);
      for (let i = 0; i < 3; i++) await accepted(b, cmd.addTrack(room, 'host', `lost-${i}`));
      const newest = (await b.read(room))!.version;
      assert.equal((await away.read(room, newest, 5000))?.version, newest);

      proxy.cut();
      await until('the node to notice it is cut off', () => !away.health().ready, { timeoutMs: 5_000 });
      await restoreBackup();
      await until('the other node to reconnect', () => b.health().ready, { timeoutMs: 10_000 });
      // The log grows past where the away node stands, with other commands at the same positions.
      for (let i = 0; i < 6; i++) await accepted(b, cmd.addTrack(room, 'host', `new-${i}`));
      const version = (await b.read(room))!.version;
      assert.ok(version > newest, 'the log is longer than what the away node applied');

      proxy.restore();
      const seen = await away.read(room, version, 10_000);
      assert.deepEqual(seen, await b.read(room));
      assert.deepEqual(trackIds(seen), [
        'kept-0',
        'kept-1',
        'kept-2',
        'new-0',
        'new-1',
        'new-2',
        'new-3',
        'new-4',
        'new-5',
      ]);
      assertWarned(warnings, room, 'is not the command this node applied');
    } finally {
      await Promise.all([away.close(), b.close()]);
      await proxy.close();
      await server.stop();
    }
  });

  void test('a log rewritten under connected nodes is noticed by the next write, which lands on it', async () => {
    const server = await startRedis();
    const admin = new Redis(server.url);
    const { opts, warnings } = keepingWarnings(server);
    const a = await openRedisStore(opts);
    try {
      const room = roomId();
      await accepted(a, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      for (let i = 0; i < 3; i++) await accepted(a, cmd.addTrack(room, 'host', `kept-${i}`));
      const log = roomKeys(opts.keyPrefix!, room).log;
      const kept = (await admin.call('XRANGE', log, '-', '+')) as [string, string[]][];
      for (let i = 0; i < 3; i++) await accepted(a, cmd.addTrack(room, 'host', `lost-${i}`));
      // The log as an older copy of it was: what a restore or failover leaves, without a reconnect.
      await admin.del(log);
      for (const [id, fields] of kept) await admin.call('XADD', log, id, ...fields);

      const out = await accepted(a, cmd.addTrack(room, 'host', 'after'));
      assert.equal(out.state?.version, kept.length + 1, 'the write is the entry after what Redis kept');
      assert.deepEqual(trackIds(out.state), ['after', 'kept-0', 'kept-1', 'kept-2']);
      assertWarned(warnings, room, 'Redis lost writes');
      await assertColdNodeReads(opts, room, out.state.version, out.state);
    } finally {
      admin.disconnect();
      await a.close();
      await server.stop();
    }
  });
});

void describe('redis store: options and connection', () => {
  void test('bad options are refused with a message; an unreachable Redis is UNAVAILABLE', async () => {
    await rejectsWith(openRedisStore({ url: 'http://localhost:6379' }), 'INVALID_ARGUMENT');
    await rejectsWith(openRedisStore({ url: '' }), 'INVALID_ARGUMENT');
    await rejectsWith(openRedisStore({ url: redis.url, keyPrefix: 'a{b}' }), 'INVALID_ARGUMENT');
    await rejectsWith(openRedisStore({ url: redis.url, snapshotEvery: 0 }), 'INVALID_ARGUMENT');
    const nobody = await freePort();
    const started = Date.now();
    await rejectsWith(openRedisStore({ url: `redis://127.0.0.1:${nobody}`, logger: quiet }), 'UNAVAILABLE');
    assert.ok(Date.now() - started < 5000);
  });

  void test('a password in the URL or as an option is used; a wrong one is refused', async () => {
    const server = await startRedis({ password: 's3cret pass' });
    try {
      const withUrl = await openRedisStore({ url: server.url, logger: quiet });
      const room = roomId();
      await accepted(withUrl, cmd.createRoom(room, 'host'));
      await withUrl.close();
      const withOption = await openRedisStore({
        url: `redis://127.0.0.1:${server.port}`,
        password: 's3cret pass',
        logger: quiet,
      });
      assert.equal((await withOption.read(room))?.id, room);
      assert.match(withOption.health().detail, new RegExp(`redis://127\\.0\\.0\\.1:${server.port}`));
      assert.doesNotMatch(withOption.health().detail, /s3cret/);
      await withOption.close();
      await rejectsWith(
        openRedisStore({ url: `redis://:wrong@127.0.0.1:${server.port}`, logger: quiet }),
        'UNAVAILABLE',
      );
    } finally {
      await server.stop();
    }
  });

  void test('rediss:// connects over TLS and verifies the server certificate', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chorus-tls-'));
    try {
      const files = await createTlsFiles(dir);
      const server = await startRedis({ tls: files });
      try {
        assert.match(server.url, /^rediss:/);
        const ca = await readFile(files.caFile);
        const store = await openRedisStore({ url: server.url, tls: { ca }, logger: quiet });
        try {
          const room = roomId();
          await accepted(store, cmd.createRoom(room, 'host'));
          assert.equal((await store.read(room))?.version, 1);
          assert.equal(store.health().ready, true);
        } finally {
          await store.close();
        }
        // Without the CA the self-signed server is not trusted: TLS really verifies.
        await rejectsWith(openRedisStore({ url: server.url, logger: quiet }), 'UNAVAILABLE');
      } finally {
        await server.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
