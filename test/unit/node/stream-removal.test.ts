// Which feed item ends a member's own stream (src/node/service.ts removalIn): the memberRemoved event
// that names them, with its ban; or a reset (the events were gone) of a room that had them and no
// longer does, banned if the room's bans name them. Nothing else, and nobody else's.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { removalIn } from '../../../src/node/service.ts';
import { HOST, Room } from '../domain/helpers.ts';

void test('the memberRemoved event naming the member ends their stream, with or without a ban', () => {
  const room = Room.create({}, ['a', 'b']);
  room.change(HOST, { type: 'removeMember', memberId: 'a', removeEntries: false, ban: true });
  const event = room.last.events[0]!;
  assert.deepEqual(removalIn({ kind: 'event', event }, 'a', true), {
    kind: 'removed',
    memberId: 'a',
    banned: true,
    version: event.version,
  });
  assert.equal(removalIn({ kind: 'event', event }, 'b', true), null, 'another member’s stream goes on');
  room.change(HOST, { type: 'removeMember', memberId: 'b', removeEntries: false, ban: false });
  assert.equal(removalIn({ kind: 'event', event: room.last.events[0]! }, 'b', true)?.banned, false);
  room.change(HOST, { type: 'setLocked', locked: true });
  assert.equal(removalIn({ kind: 'event', event: room.last.events[0]! }, HOST, true), null);
});

void test('a reset without the member ends the stream of one who was a member, banned as the room says', () => {
  const room = Room.create({}, ['a', 'b', 'c']);
  room.change(HOST, { type: 'removeMember', memberId: 'a', removeEntries: false, ban: true });
  room.change(HOST, { type: 'removeMember', memberId: 'b', removeEntries: false, ban: false });
  const reset = { kind: 'reset' as const, state: room.s };
  assert.deepEqual(removalIn(reset, 'a', true), {
    kind: 'removed',
    memberId: 'a',
    banned: true,
    version: room.s.version,
  });
  assert.equal(removalIn(reset, 'b', true)?.banned, false);
  assert.equal(removalIn(reset, 'c', true), null, 'still a member');
  assert.equal(removalIn(reset, 'b', false), null, 'never a member here (a waiting request, a stale token)');
});
