// The linearizability checker's self-tests: hand-made histories, one per promise, that it must
// reject or accept, then generated ones (src/verify/simulate.ts): good histories with unknown,
// failed and retried writes it must accept, and histories from a simulated store with one bug each
// (a lost acknowledged write, a write applied twice, a stale minVersion read, two nodes disagreeing
// on the order, a vote counted on the wrong entry) it must reject. fast-check picks the random seeds
// and prints the failing one; rerun with FC_SEED=… to reproduce.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Command } from '../../../src/domain/index.ts';
import { checkHistory, type Verdict } from '../../../src/verify/checker.ts';
import type {
  HistoryOp,
  ObservedEntry,
  ObservedRoom,
  ObservedValue,
  WriteOutcome,
} from '../../../src/verify/history.ts';
import { simulate, type Bug } from '../../../src/verify/simulate.ts';

const ROOM = 'r1';
const HOST = 'm_host';
const BOB = 'm_bob';
const LONG = 20 * 60_000;

/** A tiny history builder: every call gets the next id; times are given explicitly. */
function builder() {
  const ops: HistoryOp[] = [];
  const write = (
    client: string,
    actor: string,
    command: Command,
    times: [number, number | null],
    outcome: WriteOutcome,
    extra: { commandId?: string; node?: string } = {},
  ): void => {
    ops.push({
      kind: 'write',
      id: ops.length,
      client,
      node: extra.node ?? 'n1',
      room: ROOM,
      invoke: times[0],
      complete: times[1],
      commandId: extra.commandId ?? `c${ops.length}`,
      actor,
      command,
      outcome,
    });
  };
  const read = (
    client: string,
    node: string,
    times: [number, number],
    room: ObservedRoom,
    minVersion: number | null = null,
  ): void => {
    ops.push({
      kind: 'read',
      id: ops.length,
      client,
      node,
      room: ROOM,
      invoke: times[0],
      complete: times[1],
      minVersion,
      linearizable: false,
      outcome: { status: 'ok', room },
    });
  };
  const ok = (version: number, value: ObservedValue): WriteOutcome => ({ status: 'ok', version, value });
  // Set-up: the host creates the room (autoplay off), Bob joins.
  write(
    'host',
    HOST,
    { type: 'createRoom', name: 'R', hostName: 'H', settings: { autoplay: false } },
    [0, 1],
    ok(1, { type: 'createRoom', hostId: HOST }),
  );
  write(
    'bob',
    HOST,
    { type: 'join', memberId: BOB, name: 'Bob' },
    [2, 3],
    ok(2, { type: 'join', memberId: BOB }),
  );
  return { ops, write, read, ok };
}

const add = (entryId: string, trackId: string): Command => ({
  type: 'addTrack',
  entryId,
  track: { trackId, title: trackId, artist: 'A', album: '', durationMs: LONG },
});
const entry = (entryId: string, trackId: string, ups = 0, downs = 0): ObservedEntry => ({
  entryId,
  trackId,
  ups,
  downs,
});
const room = (version: number, queue: ObservedEntry[]): ObservedRoom => ({
  version,
  locked: false,
  playCount: 0,
  memberCount: 2,
  queueLength: queue.length,
  queue,
  nowPlaying: null,
});

function explain(v: Verdict): string {
  return JSON.stringify({ result: v.result, violations: v.violations, rooms: v.rooms }, null, 1);
}

void describe('linearizability checker: hand-made histories', () => {
  void test('accepts concurrent adds in either order, with reads that lag', () => {
    const h = builder();
    h.write(
      'bob',
      BOB,
      add('e_a', 't_a'),
      [10, 20],
      h.ok(4, { type: 'addTrack', entryId: 'e_a', position: 2 }),
    );
    h.write(
      'host',
      HOST,
      add('e_b', 't_b'),
      [11, 19],
      h.ok(3, { type: 'addTrack', entryId: 'e_b', position: 1 }),
    );
    h.read('carol', 'n2', [12, 21], room(2, []));
    h.read('carol', 'n2', [22, 23], room(4, [entry('e_b', 't_b'), entry('e_a', 't_a')]), 4);
    const v = checkHistory(h.ops);
    assert.equal(v.result, 'ok', explain(v));
  });

  void test('rejects a lost acknowledged write', () => {
    const h = builder();
    h.write(
      'bob',
      BOB,
      add('e_a', 't_a'),
      [10, 20],
      h.ok(3, { type: 'addTrack', entryId: 'e_a', position: 1 }),
    );
    h.write(
      'host',
      HOST,
      add('e_b', 't_b'),
      [30, 31],
      h.ok(3, { type: 'addTrack', entryId: 'e_b', position: 1 }),
    );
    h.read('bob', 'n1', [40, 41], room(3, [entry('e_b', 't_b')]));
    const v = checkHistory(h.ops);
    assert.equal(v.result, 'illegal', explain(v));
  });

  void test('rejects a write applied twice (a retry answered as a second change)', () => {
    const h = builder();
    const ans = (version: number) => h.ok(version, { type: 'addTrack', entryId: 'e_a', position: 1 });
    h.write('bob', BOB, add('e_a', 't_a'), [10, 20], ans(3), { commandId: 'k1' });
    h.write('bob', BOB, add('e_a', 't_a'), [30, 40], ans(4), { commandId: 'k1' });
    const v = checkHistory(h.ops);
    assert.equal(v.result, 'illegal', explain(v));
  });

  void test('accepts the same retry answered from memory at the current version', () => {
    const h = builder();
    const ans = (version: number) => h.ok(version, { type: 'addTrack', entryId: 'e_a', position: 1 });
    h.write('bob', BOB, add('e_a', 't_a'), [10, 20], ans(3), { commandId: 'k1' });
    h.write('bob', BOB, add('e_a', 't_a'), [30, 40], ans(3), { commandId: 'k1' });
    const v = checkHistory(h.ops);
    assert.equal(v.result, 'ok', explain(v));
  });

  void test('rejects a stale minVersion read, by its version and by its content', () => {
    const h = builder();
    h.write(
      'bob',
      BOB,
      add('e_a', 't_a'),
      [10, 20],
      h.ok(3, { type: 'addTrack', entryId: 'e_a', position: 1 }),
    );
    h.read('bob', 'n2', [30, 31], room(2, []), 3);
    const byVersion = checkHistory(h.ops);
    assert.equal(byVersion.result, 'illegal', explain(byVersion));
    assert.match(byVersion.violations.join('\n'), /minVersion 3 answered version 2/);

    const forged = builder();
    forged.write(
      'bob',
      BOB,
      add('e_a', 't_a'),
      [10, 20],
      forged.ok(3, { type: 'addTrack', entryId: 'e_a', position: 1 }),
    );
    forged.read('bob', 'n2', [30, 31], room(3, []), 3);
    const byContent = checkHistory(forged.ops);
    assert.equal(byContent.result, 'illegal', explain(byContent));
  });

  void test('rejects two nodes showing two adds in different orders at the same version', () => {
    const h = builder();
    h.write('bob', BOB, add('e_a', 't_a'), [10, 20], { status: 'unknown', reason: 'timeout' });
    h.write('host', HOST, add('e_b', 't_b'), [11, 19], { status: 'unknown', reason: 'timeout' });
    h.read('x', 'n1', [30, 31], room(4, [entry('e_a', 't_a'), entry('e_b', 't_b')]));
    h.read('y', 'n2', [30, 31], room(4, [entry('e_b', 't_b'), entry('e_a', 't_a')]));
    const v = checkHistory(h.ops);
    assert.equal(v.result, 'illegal', explain(v));
  });

  void test('rejects a vote counted on the wrong entry', () => {
    const h = builder();
    h.write(
      'bob',
      BOB,
      add('e_a', 't_a'),
      [10, 11],
      h.ok(3, { type: 'addTrack', entryId: 'e_a', position: 1 }),
    );
    h.write(
      'bob',
      BOB,
      add('e_b', 't_b'),
      [12, 13],
      h.ok(4, { type: 'addTrack', entryId: 'e_b', position: 2 }),
    );
    const vote: ObservedValue = {
      type: 'vote',
      entryId: 'e_b',
      ups: 1,
      downs: 0,
      effect: 'none',
      position: 1,
    };
    h.write('host', HOST, { type: 'vote', entryId: 'e_b', value: 1 }, [14, 15], h.ok(5, vote));
    h.read('bob', 'n2', [16, 17], room(5, [entry('e_a', 't_a', 1), entry('e_b', 't_b')]));
    const v = checkHistory(h.ops);
    assert.equal(v.result, 'illegal', explain(v));
  });

  void test('accepts an unknown add that took effect, and one that did not', () => {
    for (const seen of [true, false]) {
      const h = builder();
      h.write('bob', BOB, add('', 't_a'), [10, null], { status: 'unknown', reason: 'timeout' });
      h.write(
        'host',
        HOST,
        add('e_b', 't_b'),
        [12, 13],
        h.ok(seen ? 4 : 3, {
          type: 'addTrack',
          entryId: 'e_b',
          position: seen ? 2 : 1,
        }),
      );
      h.read(
        'z',
        'n3',
        [20, 21],
        room(seen ? 4 : 3, [...(seen ? [entry('e_x', 't_a')] : []), entry('e_b', 't_b')]),
      );
      const v = checkHistory(h.ops);
      assert.equal(v.result, 'ok', `${String(seen)}: ${explain(v)}`);
    }
  });

  void test('drops a write the store refused to order, and rejects a read showing it anyway', () => {
    const h = builder();
    h.write('bob', BOB, add('e_a', 't_a'), [10, 11], { status: 'failed', code: 'UNAVAILABLE' });
    h.read('z', 'n1', [20, 21], room(2, []));
    assert.equal(checkHistory(h.ops).result, 'ok');
    h.read('z', 'n2', [22, 23], room(3, [entry('e_a', 't_a')]));
    assert.equal(checkHistory(h.ops).result, 'illegal');
  });

  void test('rejects a plain read that goes back on the same node', () => {
    const h = builder();
    h.write(
      'bob',
      BOB,
      add('e_a', 't_a'),
      [10, 11],
      h.ok(3, { type: 'addTrack', entryId: 'e_a', position: 1 }),
    );
    h.read('bob', 'n1', [20, 21], room(2, []));
    const v = checkHistory(h.ops);
    assert.equal(v.result, 'illegal', explain(v));
    assert.match(v.violations.join('\n'), /read answered version 2 after op 2/);
  });

  void test('says unknown when a track may have finished by itself, or when time runs out', () => {
    const h = builder();
    h.write(
      'bob',
      BOB,
      {
        type: 'addTrack',
        entryId: 'e_a',
        track: { trackId: 't', title: 't', artist: 'a', album: '', durationMs: 5 },
      },
      [10, 11],
      h.ok(3, { type: 'addTrack', entryId: 'e_a', position: 1 }),
    );
    const v = checkHistory(h.ops);
    assert.equal(v.result, 'unknown');
    assert.match(v.rooms[0]!.reason!, /playback clock/);

    const big = simulate({ seed: 7, rooms: 1, opsPerRoom: 400, unknownRate: 0.2 }).ops;
    assert.equal(checkHistory(big, { timeoutMs: 0 }).result, 'unknown');
  });
});

const BUGS: readonly Bug[] = [
  'lostWrite',
  'appliedTwice',
  'staleMinVersion',
  'nodesDisagree',
  'wrongEntryVote',
];

void describe('linearizability checker: generated histories', () => {
  void test('accepts good histories with unknown, failed and retried writes (random seeds)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const { ops } = simulate({
          seed,
          rooms: 2,
          opsPerRoom: 150,
          unknownRate: 0.1,
          failRate: 0.05,
          clients: 5,
        });
        const v = checkHistory(ops, { timeoutMs: 20_000 });
        assert.equal(v.result, 'ok', `seed ${seed}: ${explain(v)}`);
      }),
      { numRuns: 25 },
    );
  });

  for (const bug of BUGS) {
    void test(`rejects every history where the store's bug struck: ${bug} (fixed and random seeds)`, () => {
      let struck = 0;
      const check = (seed: number): void => {
        const sim = simulate({ seed, rooms: 2, opsPerRoom: 120, bug });
        if (sim.struck === 0) return;
        struck++;
        const v = checkHistory(sim.ops, { timeoutMs: 20_000 });
        assert.equal(v.result, 'illegal', `${bug}, seed ${seed}: ${explain(v)}`);
      };
      for (let seed = 1; seed <= 10; seed++) check(seed);
      assert.ok(struck >= 8, `the bug struck in only ${struck} of 10 fixed seeds`);
      fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), check), { numRuns: 15 });
    });
  }
});
