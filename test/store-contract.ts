// The Store contract (src/store/types.ts) as a reusable node:test suite. Every store runs it:
//
//   runStoreContract('memory', async () => ({ store, cleanup }));
//
// makeStore must return a started store over fresh, empty storage (no rooms), and a cleanup that
// closes the store if it is still open and removes whatever the store left behind. Each test gets
// its own store.
//
// The strongest checks compare the store with the state machine itself: whatever order a store
// picks for concurrent commands, replaying them through `apply` in that order (recovered from the
// versions in the answers) must give every answer and the final state exactly.

import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  apply,
  ChorusError,
  type Envelope,
  type ErrorCode,
  type QueueEntry,
  type RoomEvent,
  type RoomState,
} from '../src/domain/index.ts';
import { EVENTS_KEPT } from '../src/store/replica.ts';
import type { CommitOutcome, FeedItem, Store } from '../src/store/types.ts';
import { cmd, envelope, OPEN_SETTINGS, roomId } from './helpers/store-envelopes.ts';
import { until } from './helpers/until.ts';

export interface StoreUnderTest {
  readonly store: Store;
  readonly cleanup: () => Promise<void>;
}

/** Asserts that the promise rejects with a ChorusError of this code; returns it. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<ChorusError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ChorusError, `expected a ChorusError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/** Submits and returns the outcome, failing the test if the command was refused. */
export async function accepted(store: Store, env: Envelope): Promise<CommitOutcome> {
  const out = await store.submit(env);
  assert.ok(out.result.ok, `${env.command.type} refused: ${JSON.stringify(out.result)}`);
  return out;
}

/** A room with a host and members m0..m(n-1) joined, on permissive settings. */
async function roomWithMembers(store: Store, members: number): Promise<{ room: string; envs: Envelope[] }> {
  const room = roomId();
  const envs = [cmd.createRoom(room, 'host', OPEN_SETTINGS)];
  for (let i = 0; i < members; i++) envs.push(cmd.join(room, `m${i}`));
  for (const env of envs) await accepted(store, env);
  return { room, envs };
}

/** What apply gives for these envelopes in order, starting from no room. */
function replay(envs: readonly Envelope[]): { state: RoomState | null; events: RoomEvent[] } {
  let state: RoomState | null = null;
  const events: RoomEvent[] = [];
  for (const env of envs) {
    const out = apply(state, env);
    state = out.state;
    events.push(...out.events);
  }
  return { state, events };
}

/**
 * Puts concurrently submitted commands of one room back in the order the store applied them:
 * the command that produced version v comes right after the one that produced v-1, and commands
 * that changed nothing (refused, no-op) go after the change whose version they saw. Then replays
 * them through apply from scratch (after `prefix`) and checks every answer and the final state.
 */
export function assertMatchesReplay(
  prefix: readonly Envelope[],
  runs: readonly { env: Envelope; out: CommitOutcome }[],
  final: RoomState | null,
): void {
  const changed = (r: { env: Envelope; out: CommitOutcome }): boolean =>
    r.out.result.ok && r.out.state?.recent.at(-1)?.commandId === r.env.commandId;
  const ordered = [...runs].sort(
    (a, b) =>
      (a.out.state?.version ?? 0) - (b.out.state?.version ?? 0) || Number(changed(b)) - Number(changed(a)),
  );
  // The changes' versions must be exactly the next versions, each once.
  const base = replay(prefix).state?.version ?? 0;
  const versions = ordered.filter(changed).map((r) => r.out.state!.version);
  assert.deepEqual(
    versions,
    versions.map((_, i) => base + i + 1),
    'each accepted change has its own version, no gaps',
  );

  let state = replay(prefix).state;
  for (const { env, out } of ordered) {
    const expected = apply(state, env);
    assert.deepEqual(out.result, expected.result, `answer to ${env.command.type} ${env.commandId}`);
    state = expected.state;
  }
  assert.deepEqual(final, state, 'final state equals replaying the commands through apply');
}

export function runStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
    const { store, cleanup } = await makeStore();
    try {
      await fn(store);
    } finally {
      await cleanup();
    }
  }

  void describe(`Store contract: ${name}`, () => {
    void test('submit answers with the state machine result and the new state', () =>
      withStore(async (store) => {
        const room = roomId();
        const envs = [
          cmd.createRoom(room, 'host'),
          cmd.join(room, 'alice'),
          cmd.addTrack(room, 'alice', 'e1'),
        ];
        let state: RoomState | null = null;
        for (const env of envs) {
          const expected = apply(state, env);
          const out = await store.submit(env);
          assert.deepEqual(out.result, expected.result);
          assert.deepEqual(out.state, expected.state);
          state = expected.state;
        }
        assert.equal(store.kind.length > 0, true);
        assert.deepEqual(await store.read(room), state);
      }));

    void test('each accepted change increments the version by one', () =>
      withStore(async (store) => {
        const room = roomId();
        assert.equal((await accepted(store, cmd.createRoom(room, 'host'))).state?.version, 1);
        for (let i = 0; i < 5; i++) {
          const out = await accepted(store, cmd.join(room, `m${i}`));
          assert.equal(out.state?.version, i + 2);
          assert.equal((await store.read(room))?.version, i + 2);
        }
      }));

    void test('refused and no-op commands leave the version and state unchanged', () =>
      withStore(async (store) => {
        const { room } = await roomWithMembers(store, 2);
        const before = await store.read(room);
        assert.ok(before);

        const dup = await store.submit(cmd.join(room, 'm0'));
        assert.equal(dup.result.ok, false);
        assert.equal(!dup.result.ok && dup.result.error.code, 'ALREADY_EXISTS');
        const stranger = await store.submit(cmd.addTrack(room, 'stranger', 'e1'));
        assert.equal(!stranger.result.ok && stranger.result.error.code, 'PERMISSION_DENIED');
        const noop = await store.submit(cmd.setLocked(room, 'host', false)); // already unlocked
        assert.equal(noop.result.ok, true);

        for (const out of [dup, stranger, noop]) assert.equal(out.state?.version, before.version);
        assert.deepEqual(await store.read(room), before);
      }));

    void test('a command for a room that does not exist is refused and leaves no room behind', () =>
      withStore(async (store) => {
        const ghost = roomId('ghost');
        const out = await store.submit(cmd.join(ghost, 'alice'));
        assert.equal(out.result.ok, false);
        assert.equal(!out.result.ok && out.result.error.code, 'NOT_FOUND');
        assert.equal(out.state, null);
        assert.equal(await store.read(ghost), null);
        assert.ok(!store.loadedRooms().includes(ghost));
        assert.ok(!(await store.listRooms(100)).some((r) => r.id === ghost));
      }));

    void test('a retried commandId is applied once and answered alike', () =>
      withStore(async (store) => {
        const { room } = await roomWithMembers(store, 1);
        const add = cmd.addTrack(room, 'm0', 'e1');
        const first = await accepted(store, add);
        const again = await store.submit(add);
        assert.deepEqual(again.result, first.result);
        assert.equal(again.state?.version, first.state?.version);

        // Concurrent duplicates (a client retrying before the first answer arrived).
        const vote = cmd.vote(room, 'm0', 'e1', 1);
        const outs = await Promise.all([store.submit(vote), store.submit(vote), store.submit(vote)]);
        for (const out of outs) assert.deepEqual(out.result, outs[0].result);
        const state = await store.read(room);
        assert.equal(state?.version, first.state!.version + 1);
        assert.equal(state?.queue.length, 1);
        assert.equal(state?.queue.at(0)?.ups, 1);
      }));

    void test('read with minVersion waits for that version', () =>
      withStore(async (store) => {
        const { room } = await roomWithMembers(store, 0);
        let resolved = false;
        const waiting = store.read(room, 2, 5_000).then((s) => {
          resolved = true;
          return s;
        });
        for (let i = 0; i < 5; i++) await nextTurn();
        assert.equal(resolved, false, 'read returned before version 2 existed');
        await accepted(store, cmd.join(room, 'late'));
        const state = await waiting;
        assert.ok(state && state.version >= 2);
        assert.ok(state.members.get('late'));

        // A room that does not exist yet: wait for its creation.
        const next = roomId();
        const created = store.read(next, 1, 5_000);
        await accepted(store, cmd.createRoom(next, 'host'));
        assert.equal((await created)?.id, next);
      }));

    void test('read with minVersion times out with DEADLINE_EXCEEDED', () =>
      withStore(async (store) => {
        const { room } = await roomWithMembers(store, 0);
        const started = Date.now();
        await rejectsWith(store.read(room, 10, 100), 'DEADLINE_EXCEEDED');
        assert.ok(Date.now() - started >= 90, 'waited for the timeout');
        await rejectsWith(store.read(roomId('ghost'), 1, 50), 'DEADLINE_EXCEEDED');
        // The room is unharmed and still readable.
        assert.equal((await store.read(room, 1, 100))?.version, 1);
      }));

    void test('subscribe replays events after a version, then delivers live events in order', () =>
      withStore(async (store) => {
        const { room, envs } = await roomWithMembers(store, 3); // versions 1..4
        const fromTwo: FeedItem[] = [];
        const fromZero: FeedItem[] = [];
        const live: FeedItem[] = [];
        const subs = [
          await store.subscribe(room, 2, (item) => fromTwo.push(item)),
          await store.subscribe(room, 0, (item) => fromZero.push(item)),
          await store.subscribe(room, 4, (item) => live.push(item)),
        ];
        const more = [cmd.join(room, 'x'), cmd.addTrack(room, 'x', 'e1'), cmd.vote(room, 'm0', 'e1', 1)];
        for (const env of more) await accepted(store, env);

        const all = replay([...envs, ...more]).events; // what the state machine emits, in order
        const events = (items: FeedItem[]): RoomEvent[] =>
          items.map((i) => (i.kind === 'event' ? i.event : assert.fail(`unexpected ${i.kind}`)));
        await until(
          'events after version 2',
          () => fromTwo.length === all.filter((e) => e.version > 2).length,
          { timeoutMs: 5_000 },
        );
        await until('all events', () => fromZero.length === all.length, { timeoutMs: 5_000 });
        await until('live events', () => live.length === all.filter((e) => e.version > 4).length, {
          timeoutMs: 5_000,
        });
        assert.deepEqual(
          events(fromTwo),
          all.filter((e) => e.version > 2),
        );
        assert.deepEqual(events(fromZero), all);
        assert.deepEqual(
          events(live),
          all.filter((e) => e.version > 4),
        );

        // Closed subscriptions hear nothing more.
        for (const sub of subs) sub.close();
        await accepted(store, cmd.join(room, 'y'));
        await nextTurn();
        assert.equal(live.length, all.filter((e) => e.version > 4).length);
      }));

    void test('a subscriber ahead of this node skips what it has already seen', () =>
      withStore(async (store) => {
        const { room } = await roomWithMembers(store, 1); // version 2
        const items: FeedItem[] = [];
        const sub = await store.subscribe(room, 3, (item) => items.push(item));
        await accepted(store, cmd.join(room, 'a')); // version 3: seen already
        await accepted(store, cmd.join(room, 'b')); // version 4: new
        await until('the version 4 event', () => items.length >= 1, { timeoutMs: 5_000 });
        assert.deepEqual(
          items.map((i) => (i.kind === 'event' ? i.event.version : -1)),
          [4],
        );
        sub.close();
      }));

    void test('subscribe from a version whose events are gone starts with a reset', () =>
      withStore(async (store) => {
        const { room } = await roomWithMembers(store, 0);
        // One event per join: push the first versions out of the events kept for resuming.
        const joins = Array.from({ length: EVENTS_KEPT + 20 }, (_, i) => cmd.join(room, `j${i}`));
        for (let i = 0; i < joins.length; i += 250) {
          await Promise.all(joins.slice(i, i + 250).map((env) => accepted(store, env)));
        }
        const current = await store.read(room);
        assert.ok(current);
        const items: FeedItem[] = [];
        const sub = await store.subscribe(room, 0, (item) => items.push(item));
        await until('the first feed item', () => items.length > 0, { timeoutMs: 5_000 });
        const first = items[0]!;
        if (first.kind === 'reset') {
          assert.deepEqual(first.state, current);
        } else {
          // A store that still has every event may replay them all instead; then they must be complete.
          await until('a full replay', () => items.length >= current.version, { timeoutMs: 5_000 });
          assert.deepEqual(
            items
              .map((i) => (i.kind === 'event' ? i.event.version : -1))
              .filter((v, i, a) => a.indexOf(v) === i),
            Array.from({ length: current.version }, (_, i) => i + 1),
          );
        }
        const seen = items.length;
        await accepted(store, cmd.join(room, 'after'));
        await until('a live event after the reset', () => items.length > seen, { timeoutMs: 5_000 });
        const last = items.at(-1)!;
        assert.equal(last.kind === 'event' && last.event.version, current.version + 1);
        sub.close();
      }));

    void test('malformed room ids, versions, timeouts and list limits are read alike by every store', () =>
      withStore(async (store) => {
        const { room } = await roomWithMembers(store, 0);
        // A malformed id is a room that does not exist: answered at once, never waited for.
        for (const bad of ['Not A Room!', '', '../x', 'a'.repeat(500)]) {
          assert.equal(await store.read(bad, 1, 60_000), null, `read(${JSON.stringify(bad)})`);
          const err = await rejectsWith(
            store.subscribe(bad, 0, () => undefined),
            'NOT_FOUND',
          );
          assert.equal(err.message, `room ${bad} does not exist`);
        }
        assert.deepEqual(store.loadedRooms(), [room], 'nothing is held for a malformed id');
        // A version that is not a number asks for nothing; a timeout that is not one is the default.
        assert.equal((await store.read(room, Number.NaN))?.version, 1);
        const waiting = store.read(room, 2, Number.POSITIVE_INFINITY);
        for (let i = 0; i < 5; i++) await nextTurn();
        await accepted(store, cmd.join(room, 'late'));
        assert.equal((await waiting)?.version, 2, 'an infinite timeout waits (for the default)');
        // A negative timeout is no wait at all.
        await rejectsWith(store.read(room, 3, -5), 'DEADLINE_EXCEEDED');
        // List limits are whole numbers; anything not positive lists nothing.
        assert.equal((await store.listRooms(1.9)).length, 1);
        for (const limit of [0, -3, Number.NaN]) assert.deepEqual(await store.listRooms(limit), []);
      }));

    void test('subscribe to a room that does not exist is NOT_FOUND', () =>
      withStore(async (store) => {
        await rejectsWith(
          store.subscribe(roomId('ghost'), 0, () => undefined),
          'NOT_FOUND',
        );
      }));

    void test('listRooms lists public rooms, newest first, up to the limit', () =>
      withStore(async (store) => {
        const ids = [roomId('a'), roomId('b'), roomId('c')];
        for (const id of ids) await accepted(store, cmd.createRoom(id, 'host'));
        const hidden = roomId('private');
        await accepted(store, cmd.createRoom(hidden, 'host', { public: false }));
        await accepted(store, cmd.join(ids[1]!, 'alice'));

        const listed = await store.listRooms(10);
        assert.deepEqual(
          listed.map((r) => r.id),
          [...ids].reverse(),
        );
        const b = listed.find((r) => r.id === ids[1]);
        assert.equal(b?.memberCount, 2);
        assert.equal(b?.version, 2);
        assert.equal(b?.name, `Room ${ids[1]}`);
        assert.deepEqual(
          (await store.listRooms(2)).map((r) => r.id),
          [ids[2], ids[1]],
        );
        assert.deepEqual([...store.loadedRooms()].sort(), [...ids, hidden].sort());
      }));

    void test('50+ concurrent submits from many members are each applied exactly once', () =>
      withStore(async (store) => {
        const room = roomId();
        const create = cmd.createRoom(room, 'host', OPEN_SETTINGS);
        await accepted(store, create);
        const runs: { env: Envelope; out: CommitOutcome }[] = [];
        const submitAll = async (envs: Envelope[]): Promise<void> => {
          const outs = await Promise.all(envs.map((env) => store.submit(env)));
          envs.forEach((env, i) => runs.push({ env, out: outs[i]! }));
        };
        const members = Array.from({ length: 20 }, (_, i) => `m${i}`);
        await submitAll(members.map((m) => cmd.join(room, m)));
        // Two adds per member, and every member also races for one shared track: one of them wins.
        await submitAll(
          members.flatMap((m) => [
            cmd.addTrack(room, m, `${m}-a`),
            cmd.addTrack(room, m, `${m}-b`),
            cmd.addTrack(room, m, `${m}-shared`, 'shared-track'),
          ]),
        );
        // Everyone votes on everyone's first entry; some withdraw or remove their second entry.
        await submitAll(
          members.flatMap((m, i) => [
            ...members.map((other) => cmd.vote(room, m, `${other}-a`, i % 3 === 0 ? -1 : 1)),
            i % 2 === 0 ? cmd.removeEntry(room, m, `${m}-b`) : cmd.vote(room, m, `${m}-b`, 0),
          ]),
        );

        const state = await store.read(room);
        assert.ok(state);
        const ok = (type: string): number =>
          runs.filter((r) => r.env.command.type === type && r.out.result.ok).length;
        assert.equal(ok('join'), 20);
        assert.equal(ok('addTrack'), 41, '40 own tracks and exactly one of the 20 racing adds');
        assert.equal(state.queue.length, 41 - 10);
        const entryIds = state.queue.map((e) => e.entryId);
        assert.equal(new Set(entryIds).size, entryIds.length, 'no entry twice');
        const downs = members.filter((_, i) => i % 3 === 0).length;
        for (const m of members) {
          const e: QueueEntry | undefined = state.queue.find((x) => x.entryId === `${m}-a`);
          assert.equal(e?.ups, 20 - downs);
          assert.equal(e?.downs, downs);
        }
        assertMatchesReplay([create], runs, state);
      }));

    void test('the final state equals replaying the accepted commands through apply (random concurrent loads)', () =>
      withStore(async (store) => {
        const members = ['m0', 'm1', 'm2', 'm3', 'm4'];
        const entries = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5'];
        const member = fc.constantFrom('host', ...members, 'stranger');
        const entry = fc.constantFrom(...entries);
        const command = fc.oneof(
          fc.tuple(member).map(
            ([m]) =>
              (room: string) =>
                cmd.join(room, m),
          ),
          fc.tuple(member, entry, fc.constantFrom('t0', 't1', 't2', 't3')).map(
            ([m, e, t]) =>
              (room: string) =>
                cmd.addTrack(room, m, e, t),
          ),
          fc.tuple(member, entry, fc.constantFrom<1 | -1 | 0>(1, -1, 0)).map(
            ([m, e, v]) =>
              (room: string) =>
                cmd.vote(room, m, e, v),
          ),
          fc.tuple(member, entry).map(
            ([m, e]) =>
              (room: string) =>
                cmd.removeEntry(room, m, e),
          ),
          fc.boolean().map((locked) => (room: string) => cmd.setLocked(room, 'host', locked)),
          fc.constant((room: string) =>
            envelope(room, 'host', { type: 'advance', expectedEntryId: null, reason: 'skipped' }),
          ),
        );
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.array(command, { minLength: 1, maxLength: 25 }), { maxLength: 4 }),
            async (waves) => {
              const room = roomId();
              const create = cmd.createRoom(room, 'host', {
                maxEntriesPerMember: 2,
                voteOffThreshold: 2,
                skipVotes: 2,
              });
              await accepted(store, create);
              const runs: { env: Envelope; out: CommitOutcome }[] = [];
              for (const wave of waves) {
                const envs = wave.map((make) => make(room));
                const outs = await Promise.all(envs.map((env) => store.submit(env)));
                envs.forEach((env, i) => runs.push({ env, out: outs[i]! }));
              }
              assertMatchesReplay([create], runs, await store.read(room));
            },
          ),
          { numRuns: 25 },
        );
      }));

    void test('health is ready while open; close is idempotent and settles every submission', () =>
      withStore(async (store) => {
        assert.equal(store.health().ready, true);
        assert.equal(typeof store.health().detail, 'string');
        const { room } = await roomWithMembers(store, 0);
        const inFlight = Array.from({ length: 10 }, (_, i) => store.submit(cmd.join(room, `late${i}`)));
        const settled = Promise.allSettled(inFlight);
        await Promise.all([store.close(), store.close()]);
        await store.close();
        for (const s of await settled) {
          if (s.status === 'rejected') {
            assert.ok(s.reason instanceof ChorusError && s.reason.code === 'UNAVAILABLE', String(s.reason));
          }
        }
        assert.equal(store.health().ready, false);
        await rejectsWith(store.submit(cmd.join(room, 'too-late')), 'UNAVAILABLE');
      }));
  });
}
