// Snapshots: a room as a versioned JSON value that restores to the same room.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  apply,
  ChorusError,
  restore,
  snapshot,
  SNAPSHOT_FORMAT,
  type RoomState,
} from '../../../src/domain/index.ts';
import { HOST, Room, viaJson } from './helpers.ts';

function busyRoom(): Room {
  const room = Room.create({ historyRetention: 5 }, ['m1', 'm2']);
  room.add('m1', 'a', 1000);
  room.add('m2', 'b', 1000);
  room.add('m1', 'c', 1000);
  room.vote('m2', 'e-c', 1);
  room.ok(HOST, { type: 'anonymousVote', entryId: 'e-b', value: -1 });
  room.tick(1000);
  room.change(null, { type: 'advance', expectedEntryId: 'e-a', reason: 'finished' });
  room.change(HOST, { type: 'setLocked', locked: true });
  return room;
}

function assertRefused(value: unknown, pattern: RegExp): void {
  assert.throws(
    () => restore(value),
    (err: unknown) =>
      err instanceof ChorusError && err.code === 'INVALID_ARGUMENT' && pattern.test(err.message),
  );
}

void describe('snapshot and restore', () => {
  void test('a snapshot carries its format', () => {
    const s = busyRoom().s;
    assert.deepEqual(snapshot(s), { format: SNAPSHOT_FORMAT, state: s });
    assert.equal(SNAPSHOT_FORMAT, 'chorus.room/1');
  });

  void test('restore(JSON of a snapshot) gives the same room, which then behaves the same', () => {
    const room = busyRoom();
    const restored: RoomState = restore(viaJson(snapshot(room.s)));
    assert.deepEqual(restored, room.s);

    const later = [
      room.envelope('m1', { type: 'vote', entryId: 'e-b', value: 1 }),
      room.envelope(HOST, { type: 'advance', expectedEntryId: 'e-c', reason: 'skipped' }),
      // A retry of an earlier command is still recognised after the restore.
      { ...room.envelope(HOST, { type: 'clear' }), commandId: 'cmd-3' },
    ];
    let a: RoomState | null = room.s;
    let b: RoomState | null = restored;
    for (const env of later) {
      const outA = apply(a, env);
      const outB = apply(b, env);
      assert.deepEqual(outB, outA);
      a = outA.state;
      b = outB.state;
    }
    assert.equal(a?.history.length, 2, 'the reused command id (a join) did not clear the room');
  });

  void test('refuses an unknown format, saying which one it expected', () => {
    const s = busyRoom().s;
    assert.throws(
      () => restore({ format: 'chorus.room/2', state: s }),
      (err: unknown) =>
        err instanceof ChorusError &&
        err.code === 'INVALID_ARGUMENT' &&
        /unknown room snapshot format chorus.room\/2/.test(err.message) &&
        err.details?.['expected'] === SNAPSHOT_FORMAT,
    );
    assertRefused({ state: s }, /unknown room snapshot format/);
  });

  void test('refuses what is not a snapshot at all', () => {
    assertRefused(null, /must be an object/);
    assertRefused('chorus.room/1', /must be an object/);
    assertRefused({ format: SNAPSHOT_FORMAT }, /no room state/);
    assertRefused({ format: SNAPSHOT_FORMAT, state: { name: 'no id' } }, /no room state/);
  });
});
