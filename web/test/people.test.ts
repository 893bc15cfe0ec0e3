// The page's people rules (web/src/people.ts): the member actions it offers are exactly those the
// domain allows (checked against src/domain's own apply for every pair of roles), the members list
// order, and the recovery key file; and the room model's member events (web/src/model.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apply, viewRoom, type Command } from '../../src/domain/index.ts';
import type { Role, RoomEvent, RoomEventBody } from '../../src/domain/types.ts';
import type { RoomView } from '../../src/domain/view.ts';
import { HOST, Room, T0 } from '../../test/unit/domain/helpers.ts';
import { applyEvents, fromView } from '../src/model.ts';
import { actionsFor, percentToShare, recoveryFile, roster, shareToPercent } from '../src/people.ts';

const ROLES: readonly Role[] = ['host', 'cohost', 'member'];

/** A room with a host, two co-hosts and two members: one of each role acts, another is acted on. */
function roomWithRoles(): Room {
  const room = Room.create({}, ['c1', 'c2', 'm1', 'm2']);
  room.change(HOST, { type: 'setRole', memberId: 'c1', role: 'cohost' });
  room.change(HOST, { type: 'setRole', memberId: 'c2', role: 'cohost' });
  return room;
}
const ACTOR: Readonly<Record<Role, string>> = { host: HOST, cohost: 'c1', member: 'm1' };
const TARGET: Readonly<Record<Role, string>> = { host: HOST, cohost: 'c2', member: 'm2' };

function allowed(actor: string, command: Command): boolean {
  const room = roomWithRoles();
  return apply(room.s, room.envelope(actor, command)).result.ok;
}

void test('the page offers a member action exactly when the domain allows it', () => {
  for (const me of ROLES) {
    for (const target of ROLES) {
      for (const self of [false, true]) {
        if (self && me !== target) continue;
        const actor = ACTOR[me];
        const id = self ? actor : TARGET[target];
        const can = actionsFor(me, target, self);
        const pair = `${me} -> ${self ? 'self' : target}`;
        const otherRole = target === 'cohost' ? 'member' : 'cohost';
        // Only a change the domain would make counts as allowed (setting the same role is a no-op).
        const roleChange =
          target !== 'host' && allowed(actor, { type: 'setRole', memberId: id, role: otherRole });
        assert.equal(can.setRole !== null, roleChange && !self, `set role, ${pair}`);
        if (can.setRole !== null) assert.equal(can.setRole, otherRole, `the role offered, ${pair}`);
        // Handing the room to oneself is a no-op the page need not offer.
        assert.equal(
          can.handOver,
          !self && target !== 'host' && allowed(actor, { type: 'handOver', memberId: id }),
          `hand over, ${pair}`,
        );
        assert.equal(
          can.remove,
          allowed(actor, { type: 'removeMember', memberId: id, ban: false, removeEntries: false }),
          `remove, ${pair}`,
        );
      }
    }
  }
});

void test('the members list: host, co-hosts, members; those here first; then by join', () => {
  const m = (memberId: string, role: Role, joinedAt: number) => ({
    memberId,
    name: memberId,
    role,
    joinedAt,
  });
  const rows = roster(
    [m('late', 'member', 5), m('early', 'member', 1), m('co', 'cohost', 3), m('host', 'host', 0)],
    [{ memberId: 'late', name: 'late' }],
  );
  assert.deepEqual(
    rows.map((r) => `${r.memberId}${r.here ? '*' : ''}`),
    ['host', 'co', 'late*', 'early'],
  );
});

void test('the recovery key file names the room and holds the key; skip share in percent', () => {
  const file = recoveryFile('Friday', 'friday-a1b2c', 'http://h/r/friday-a1b2c', 'KEY123');
  assert.equal(file.name, 'chorus-friday-a1b2c-host-recovery-key.txt');
  assert.match(file.text, /\nKEY123\n/);
  assert.match(file.text, /http:\/\/h\/r\/friday-a1b2c/);
  assert.equal(shareToPercent(0.5), 50);
  assert.equal(percentToShare(33), 0.33);
  assert.equal(percentToShare(shareToPercent(0.07)), 0.07);
});

// ---- The room model's member events ----------------------------------------------------------------

const ME = 'm_me';

function view(me: RoomView['me'], extra: Partial<RoomView> = {}): RoomView {
  const room = Room.create({}, [ME, 'm_bo']);
  return {
    id: 'r',
    name: 'Room',
    hostId: HOST,
    createdAt: 0,
    settings: {
      ...room.s.settings,
      skipShare: 0.5,
      joinPolicy: 'approval',
      maxMembers: 0,
      joinsPerMinute: 0,
    },
    locked: false,
    version: 10,
    memberCount: 3,
    queueLength: 0,
    playCount: 0,
    nowPlaying: null,
    queue: [],
    queueOffset: 0,
    me,
    present: [
      { memberId: ME, name: 'Me' },
      { memberId: 'm_bo', name: 'Bo' },
    ],
    presentCount: 2,
    joinPending: false,
    pendingJoins: [],
    ...extra,
  };
}
const at = (version: number, ...bodies: RoomEventBody[]): RoomEvent[] =>
  bodies.map((b) => ({ ...b, roomId: 'r', version, at: 1000 }));

void test('a removal of me is reported with its ban; of another, the counts and presence follow', () => {
  const room = fromView(view({ memberId: ME, name: 'Me', isHost: false, role: 'member', joinedAt: 0 }));
  const other = applyEvents(room, at(11, { type: 'memberRemoved', memberId: 'm_bo', banned: false }));
  assert.equal(other.removedMe, null);
  assert.equal(other.stale, false);
  assert.equal(other.room.memberCount, 2);
  assert.deepEqual(
    other.room.present.map((p) => p.memberId),
    [ME],
  );
  assert.equal(other.room.rosterVersion, 11, 'the host’s members list reads itself again');
  const banned = applyEvents(room, at(11, { type: 'memberRemoved', memberId: ME, banned: true }));
  assert.deepEqual(banned.removedMe, { banned: true });
  const kicked = applyEvents(room, at(11, { type: 'memberRemoved', memberId: ME, banned: false }));
  assert.deepEqual(kicked.removedMe, { banned: false });
});

void test('join requests: a co-host sees them come and go without a refetch; a member never does', () => {
  const cohost = fromView(view({ memberId: ME, name: 'Me', isHost: false, role: 'cohost', joinedAt: 0 }));
  const asked = applyEvents(cohost, at(11, { type: 'joinRequested', memberId: 'm_cy', name: 'Cy' }));
  assert.equal(asked.stale, false);
  assert.deepEqual(asked.room.pendingJoins, [{ memberId: 'm_cy', name: 'Cy' }]);
  const admitted = applyEvents(
    asked.room,
    at(12, { type: 'memberJoined', member: { memberId: 'm_cy', name: 'Cy', isHost: false, joinedAt: 1 } }),
  );
  assert.deepEqual(admitted.room.pendingJoins, []);
  assert.equal(admitted.room.memberCount, 4);
  const denied = applyEvents(asked.room, at(12, { type: 'joinDenied', memberId: 'm_cy' }));
  assert.deepEqual(denied.room.pendingJoins, []);

  const member = fromView(view({ memberId: ME, name: 'Me', isHost: false, role: 'member', joinedAt: 0 }));
  assert.deepEqual(
    applyEvents(member, at(11, { type: 'joinRequested', memberId: 'm_cy', name: 'Cy' })).room.pendingJoins,
    [],
  );
  // A role change may change what I may see: read the room again.
  assert.equal(
    applyEvents(member, at(11, { type: 'roleChanged', memberId: ME, role: 'cohost' })).stale,
    true,
  );
});

void test('the room view shows waiting join requests to the host and co-hosts, not to members', () => {
  const room = Room.create({ joinPolicy: 'approval' }, []);
  room.ok(null, { type: 'join', memberId: 'c1', name: 'Cohost' });
  room.ok(HOST, { type: 'decideJoin', memberId: 'c1', approve: true });
  room.ok(null, { type: 'join', memberId: 'm1', name: 'Member' });
  room.ok(HOST, { type: 'decideJoin', memberId: 'm1', approve: true });
  room.change(HOST, { type: 'setRole', memberId: 'c1', role: 'cohost' });
  room.ok(null, { type: 'join', memberId: 'w1', name: 'Waiting' });
  const waiting = (viewer: string): string[] =>
    viewRoom(room.s, { now: T0, viewer }).pendingJoins.map((p) => p.memberId);
  assert.deepEqual(waiting(HOST), ['w1']);
  assert.deepEqual(waiting('c1'), ['w1'], 'a co-host admits members, so sees who waits');
  assert.deepEqual(waiting('m1'), []);
});
