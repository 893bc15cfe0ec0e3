// Presence (src/domain/presence.ts) and votes that count people: nodes' reports with leases, resets,
// expiry by command time, and the skip / vote-off thresholds as a share of the present members.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { restore, snapshot, viewRoom, type Command } from '../../../src/domain/index.ts';
import { presentMembers, votesNeeded } from '../../../src/domain/presence.ts';
import { fcParams } from './arbitraries.ts';
import { HOST, Room, viaJson } from './helpers.ts';

const LEASE = 60_000;
const report = (node: string, arrive: string[], depart: string[] = [], reset = false): Command => ({
  type: 'presence',
  node,
  arrive,
  depart,
  leaseMs: LEASE,
  ...(reset ? { reset: true } : {}),
});

const members = (n: number): string[] => Array.from({ length: n }, (_, i) => `m${i + 1}`);

void describe('presence reports', () => {
  void test('members reported by any node are present; a departure on one node leaves the other', () => {
    const room = Room.create({}, ['a', 'b']);
    room.change(null, report('n1', ['a', 'b']));
    assert.deepEqual(room.event('presenceChanged').present, ['a', 'b']);
    room.ok(null, report('n2', ['a']));
    assert.deepEqual(room.last.events, [], 'no change to the present set: no event');
    room.change(null, report('n1', [], ['a', 'b']));
    assert.deepEqual(room.event('presenceChanged').present, ['a'], 'a is still on n2');
    const view = viewRoom(room.s, { now: room.now });
    assert.deepEqual(view.present, [{ memberId: 'a', name: 'Name of a' }]);
    assert.equal(view.presentCount, 1);
  });

  void test('a report runs out with its lease unless renewed; a renewal carries no ids', () => {
    const room = Room.create({}, ['a', 'b']);
    room.change(null, report('n1', ['a']));
    room.ok(null, report('n2', ['b']));
    room.tick(LEASE / 2);
    room.ok(null, report('n1', [])); // n1 renews, n2 does not
    room.tick(LEASE / 2 + 1);
    assert.deepEqual(presentMembers(room.s, room.now), ['a'], "n2's report ran out");
    assert.deepEqual(
      viewRoom(room.s, { now: room.now }).present.map((m) => m.memberId),
      ['a'],
    );
    // The next command prunes the dead report and tells watchers the current set.
    room.change(null, report('n1', []));
    assert.deepEqual(room.event('presenceChanged').present, ['a']);
    assert.deepEqual(Object.keys(room.s.presence ?? {}), ['n1']);
  });

  void test('a reset replaces what the node reported before (a restart after a crash)', () => {
    const room = Room.create({}, ['a', 'b', 'c']);
    room.change(null, report('n1', ['a', 'b']));
    room.change(null, report('n1', ['c'], [], true));
    assert.deepEqual(presentMembers(room.s, room.now), ['c']);
  });

  void test('ids that are not members are not kept; members only; system only; bad shapes refused', () => {
    const room = Room.create({}, ['a']);
    room.ok(null, report('n1', ['ghost']));
    assert.equal(room.s.presence?.['n1'], undefined);
    room.refused('a', report('n1', ['a']), 'PERMISSION_DENIED');
    room.refused(null, { ...report('n1', ['a']), leaseMs: 10 }, 'INVALID_ARGUMENT');
    room.refused(null, { ...report('n1', []), arrive: 'a' }, 'INVALID_ARGUMENT');
    room.refused(
      null,
      report(
        'n1',
        Array.from({ length: 1001 }, () => 'a'),
      ),
      'INVALID_ARGUMENT',
    );
    room.refused(null, report('bad node', ['a']), 'INVALID_ARGUMENT');
  });

  void test('a room written before presence has nobody present and loads, reports and writes back', () => {
    const room = Room.create({}, ['a']);
    const { presence: _p, ...old } = room.s;
    const loaded = restore(viaJson(snapshot(old as typeof room.s)));
    assert.deepEqual(presentMembers(loaded, room.now), []);
  });

  void test('property: the present set is what the live reports hold, whatever the order of nodes', () => {
    const ids = members(6);
    const step = fc.record({
      node: fc.constantFrom('n1', 'n2', 'n3'),
      arrive: fc.subarray(ids),
      depart: fc.subarray(ids),
      reset: fc.boolean(),
      dt: fc.integer({ min: 0, max: LEASE * 1.5 }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const room = Room.create({}, ids);
        // The model: per node, its members and lease end.
        const model = new Map<string, { until: number; members: Set<string> }>();
        for (const s of steps) {
          room.tick(s.dt);
          room.ok(null, report(s.node, s.arrive, s.depart, s.reset));
          const prev = model.get(s.node);
          const live = prev && prev.until > room.now && !s.reset ? prev.members : new Set<string>();
          const mine = new Set(live);
          for (const id of s.arrive) mine.add(id);
          for (const id of s.depart) mine.delete(id);
          model.set(s.node, { until: room.now + LEASE, members: mine });
          const expected = new Set<string>();
          for (const r of model.values())
            if (r.until > room.now) for (const id of r.members) expected.add(id);
          assert.deepEqual(presentMembers(room.s, room.now), [...expected].sort());
          // Snapshots keep it.
          assert.deepEqual(
            presentMembers(restore(viaJson(snapshot(room.s))), room.now),
            [...expected].sort(),
          );
        }
      }),
      fcParams(150),
    );
  });
});

void describe('votes count people', () => {
  void test('votesNeeded: the minimum, or the share of present members if more; 0 stays off', () => {
    assert.equal(votesNeeded(3, 0.5, 10), 5);
    assert.equal(votesNeeded(3, 0.5, 4), 3);
    assert.equal(votesNeeded(0, 0.5, 10), 0);
    assert.equal(votesNeeded(3, 0, 100), 3);
    fc.assert(
      fc.property(
        fc.nat(50),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(200),
        (min, share, present) => {
          const n = votesNeeded(min, share, present);
          if (min === 0) return n === 0;
          return n >= min && n >= share * present && (n === min || n - 1 < share * present);
        },
      ),
      fcParams(500),
    );
  });

  void test('3 fake joins no longer skip a track in a room of 10 present members', () => {
    const people = members(10);
    const fakes = ['fake1', 'fake2', 'fake3'];
    const room = Room.create({ skipVotes: 3, skipShare: 0.5 }, [...people, ...fakes]);
    room.change(null, report('n1', people.slice(0, 5)));
    room.change(null, report('n2', people.slice(5)));
    const playing = room.add(HOST, 't1');
    for (const f of fakes) assert.equal(room.vote(f, playing, -1).effect, 'none');
    assert.equal(room.playingId(), playing, 'three downvotes are not half of ten people');
    // Two real people more make five: half of the ten present.
    assert.equal(room.vote('m1', playing, -1).effect, 'none');
    assert.equal(room.vote('m2', playing, -1).effect, 'skipped');
  });

  void test('with few people present, skipVotes is the minimum', () => {
    const room = Room.create({ skipVotes: 2, skipShare: 0.5 }, ['a', 'b', 'c']);
    room.change(null, report('n1', ['a']));
    const playing = room.add(HOST, 't1');
    room.vote('b', playing, -1);
    assert.equal(room.vote('c', playing, -1).effect, 'skipped');
  });

  void test('vote-off of queued entries likewise counts the present members', () => {
    const people = members(8);
    const room = Room.create({ voteOffThreshold: 2, skipShare: 0.5, skipVotes: 0 }, people);
    room.change(null, report('n1', people));
    room.add(HOST, 't1');
    const queued = room.add(HOST, 't2');
    for (const m of people.slice(0, 3)) assert.equal(room.vote(m, queued, -1).effect, 'none');
    assert.equal(room.vote('m4', queued, -1).effect, 'votedOff', 'four of eight present');
  });

  void test('the share setting is validated: 0 to 1', () => {
    const room = Room.create();
    room.refused(HOST, { type: 'updateSettings', patch: { skipShare: 1.5 } }, 'INVALID_ARGUMENT');
    room.refused(HOST, { type: 'updateSettings', patch: { skipShare: '0.5' } }, 'INVALID_ARGUMENT');
    room.change(HOST, { type: 'updateSettings', patch: { skipShare: 0.25 } });
    assert.equal(room.s.settings.skipShare, 0.25);
  });
});
