// Join control (src/domain/joining.ts): passcode, approval, member cap, the room-wide join rate.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { viewRoom } from '../../../src/domain/index.ts';
import { MAX_PENDING_JOINS } from '../../../src/domain/joining.ts';
import { fcParams } from './arbitraries.ts';
import { HOST, Room } from './helpers.ts';

const HASH = 'h'.repeat(32);
const OTHER = 'x'.repeat(32);
const join = (memberId: string, passcodeHash?: string) => ({
  type: 'join' as const,
  memberId,
  name: `Name of ${memberId}`,
  ...(passcodeHash !== undefined ? { passcodeHash } : {}),
});

void describe('join by passcode', () => {
  void test('the right passcode joins; none or a wrong one is refused', () => {
    const room = new Room();
    room.ok(HOST, {
      type: 'createRoom',
      name: 'R',
      hostName: 'H',
      settings: { joinPolicy: 'passcode' },
      passcodeHash: HASH,
    });
    assert.equal(room.refused(null, join('a'), 'PERMISSION_DENIED').reason, 'PASSCODE_REQUIRED');
    assert.equal(room.refused(null, join('a', OTHER), 'PERMISSION_DENIED').reason, 'PASSCODE_WRONG');
    room.change(null, join('a', HASH));
    assert.equal(viewRoom(room.s, { now: room.now, viewer: 'a' }).me?.memberId, 'a');
    assert.ok(
      !JSON.stringify(viewRoom(room.s, { now: room.now, viewer: HOST })).includes(HASH),
      'never shown',
    );
  });

  void test('a room cannot join by passcode without one; removing it reopens nothing by itself', () => {
    const room = Room.create();
    assert.equal(
      room.refused(HOST, { type: 'updateSettings', patch: { joinPolicy: 'passcode' } }, 'FAILED_PRECONDITION')
        .reason,
      'PASSCODE_NOT_SET',
    );
    room.change(HOST, { type: 'updateSettings', patch: { joinPolicy: 'passcode' }, passcodeHash: HASH });
    assert.equal(room.s.passcodeHash, HASH);
    // A new passcode alone: the state changes, no settingsChanged (watchers learn nothing of it).
    room.ok(HOST, { type: 'updateSettings', patch: {}, passcodeHash: OTHER });
    assert.deepEqual(room.last.events, []);
    assert.equal(room.s.passcodeHash, OTHER);
    room.refused(HOST, { type: 'updateSettings', patch: {}, passcodeHash: null }, 'FAILED_PRECONDITION');
    room.refused(HOST, { type: 'updateSettings', patch: {}, passcodeHash: 'short' }, 'INVALID_ARGUMENT');
    room.refused('nobody', { type: 'updateSettings', patch: {}, passcodeHash: HASH }, 'PERMISSION_DENIED');
  });
});

void describe('join by approval', () => {
  void test('a join waits; the host admits or turns away; a waiting member cannot act', () => {
    const room = Room.create({ joinPolicy: 'approval' });
    const value = room.ok(null, join('a'));
    assert.equal(value.pending, true);
    assert.deepEqual(
      room.last.events.map((e) => e.type),
      ['joinRequested'],
    );
    assert.equal(viewRoom(room.s, { now: room.now, viewer: 'a' }).joinPending, true);
    assert.equal(viewRoom(room.s, { now: room.now, viewer: 'a' }).me, null);
    assert.deepEqual(viewRoom(room.s, { now: room.now, viewer: HOST }).pendingJoins, [
      { memberId: 'a', name: 'Name of a' },
    ]);
    assert.deepEqual(viewRoom(room.s, { now: room.now, viewer: 'a' }).pendingJoins, [], 'for the host only');
    const err = room.refused(
      'a',
      {
        type: 'addTrack',
        entryId: 'e1',
        track: { trackId: 't', title: 't', artist: 'a', album: '', durationMs: 1000 },
      },
      'PERMISSION_DENIED',
    );
    assert.equal(err.reason, 'JOIN_PENDING');
    room.refused(null, join('a'), 'ALREADY_EXISTS');
    room.refused('a', { type: 'decideJoin', memberId: 'a', approve: true }, 'PERMISSION_DENIED');
    room.change(HOST, { type: 'decideJoin', memberId: 'a', approve: true });
    assert.equal(room.event('memberJoined').member.memberId, 'a');
    assert.equal(viewRoom(room.s, { now: room.now, viewer: 'a' }).me?.memberId, 'a');
    room.ok(null, join('b'));
    room.change(HOST, { type: 'decideJoin', memberId: 'b', approve: false });
    assert.deepEqual(
      room.last.events.map((e) => e.type),
      ['joinDenied'],
    );
    assert.equal(viewRoom(room.s, { now: room.now, viewer: 'b' }).joinPending, false);
    room.refused(HOST, { type: 'decideJoin', memberId: 'b', approve: true }, 'NOT_FOUND');
  });

  void test(`at most ${MAX_PENDING_JOINS} requests wait`, () => {
    const room = Room.create({ joinPolicy: 'approval' });
    for (let i = 0; i < MAX_PENDING_JOINS; i++) room.ok(null, join(`p${i}`));
    room.refused(null, join('one-more'), 'RESOURCE_EXHAUSTED');
  });
});

void describe('member cap and join rate', () => {
  void test('a full room refuses joins, and approvals', () => {
    const room = Room.create({ maxMembers: 3 }, ['a', 'b']);
    assert.equal(room.refused(null, join('c'), 'FAILED_PRECONDITION').reason, 'ROOM_FULL');
    room.change(HOST, { type: 'updateSettings', patch: { maxMembers: 4, joinPolicy: 'approval' } });
    room.ok(null, join('c'));
    room.ok(null, join('d'));
    room.change(HOST, { type: 'decideJoin', memberId: 'c', approve: true });
    room.refused(HOST, { type: 'decideJoin', memberId: 'd', approve: true }, 'FAILED_PRECONDITION');
  });

  void test('property: joins within any minute never exceed the rate (a burst of N, then N a minute)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 120 }),
        (perMinute, gaps) => {
          const room = Room.create({ joinsPerMinute: perMinute });
          const admitted: number[] = [];
          gaps.forEach((gap, i) => {
            room.tick(gap);
            const out = room.send(null, join(`m${i}`));
            if (out.result.ok) admitted.push(room.now);
            else {
              assert.equal(out.result.error.reason, 'ROOM_JOINS_TOO_FAST');
              assert.ok(Number(out.result.error.details?.['retryAfterMs']) > 0);
            }
          });
          // A token bucket of N refilled at N a minute: any window of length w admits at most
          // N + N * w / 60 s joins.
          for (let i = 0; i < admitted.length; i++) {
            for (let j = i; j < admitted.length; j++) {
              const w = admitted[j]! - admitted[i]!;
              assert.ok(
                j - i + 1 <= perMinute + (perMinute * w) / 60_000 + 1e-9,
                `${j - i + 1} joins in ${w} ms`,
              );
            }
          }
          // And a room that waited a minute always takes one more.
          room.tick(60_000);
          room.ok(null, join('late'));
        },
      ),
      fcParams(100),
    );
  });

  void test('settings are validated: policy names, cap and rate bounds', () => {
    const room = Room.create();
    room.refused(HOST, { type: 'updateSettings', patch: { joinPolicy: 'closed' } }, 'INVALID_ARGUMENT');
    room.refused(HOST, { type: 'updateSettings', patch: { maxMembers: -1 } }, 'INVALID_ARGUMENT');
    room.refused(HOST, { type: 'updateSettings', patch: { joinsPerMinute: 1.5 } }, 'INVALID_ARGUMENT');
  });
});
