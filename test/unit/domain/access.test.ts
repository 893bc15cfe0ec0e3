// Hosts, co-hosts, hand-over, recovery, kick and ban, private-room invites (src/domain/access.ts):
// the rules one by one, properties over random runs of them, and rooms written before they existed.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  apply,
  restore,
  viewRoom,
  type Command,
  type Envelope,
  type Member,
  type RoomState,
} from '../../../src/domain/index.ts';
import { hasHostPowers, isBannedMember, mayEnter, RETIRED_KEYS_KEPT } from '../../../src/domain/access.ts';
import { fcParams } from './arbitraries.ts';
import { HOST, ROOM_ID, Room, T0, viaJson } from './helpers.ts';

// The fixture's names (test/fixtures/make-room-snapshot.ts, not imported: running it rewrites the file).
const FIXTURE = new URL('../../fixtures/room-snapshot-v1.json', import.meta.url);
const SNAP_ROOM = 'snap-room';
const SNAP_HOST = 'snap-host';
const hash = (key: string): string => createHash('sha256').update(key).digest('hex');
const KEY = 'the-recovery-key-of-the-room';
const INVITE = 'invite-secret-0123456789';

function privateRoom(members: readonly string[] = []): Room {
  const room = new Room();
  room.ok(HOST, {
    type: 'createRoom',
    name: 'Private',
    hostName: 'Hosty',
    settings: { public: false },
    recoveryKeyHash: hash(KEY),
    invite: INVITE,
  });
  for (const m of members) room.ok(null, { type: 'join', memberId: m, name: `Name of ${m}`, invite: INVITE });
  return room;
}

void test('the host makes and unmakes co-hosts; co-hosts act as hosts but cannot change roles', () => {
  const room = Room.create({}, ['a', 'b']);
  room.refused('a', { type: 'setLocked', locked: true }, 'PERMISSION_DENIED');
  room.change(HOST, { type: 'setRole', memberId: 'a', role: 'cohost' });
  assert.deepEqual(room.event('roleChanged'), {
    ...room.event('roleChanged'),
    memberId: 'a',
    role: 'cohost',
  });
  room.change('a', { type: 'setLocked', locked: true });
  room.refused('a', { type: 'setRole', memberId: 'b', role: 'cohost' }, 'PERMISSION_DENIED');
  room.refused('a', { type: 'handOver', memberId: 'a' }, 'PERMISSION_DENIED');
  room.refused(HOST, { type: 'setRole', memberId: HOST, role: 'member' }, 'FAILED_PRECONDITION');
  room.noop(HOST, { type: 'setRole', memberId: 'a', role: 'cohost' });
  room.change(HOST, { type: 'setRole', memberId: 'a', role: 'member' });
  room.refused('a', { type: 'setLocked', locked: false }, 'PERMISSION_DENIED');
  room.refused(HOST, { type: 'setRole', memberId: 'nobody', role: 'cohost' }, 'NOT_FOUND');
  room.refused(HOST, { type: 'setRole', memberId: 'a', role: 'boss' }, 'INVALID_ARGUMENT');
});

void test('hand-over makes another member the host; the old host stays on as a co-host', () => {
  const room = Room.create({}, ['a']);
  room.change(HOST, { type: 'handOver', memberId: 'a' });
  assert.equal(room.s.hostId, 'a');
  assert.equal(room.s.members.get('a')!.isHost, true);
  assert.equal(room.s.members.get(HOST)!.isHost, false);
  assert.equal(room.s.members.get(HOST)!.coHost, true);
  room.refused(HOST, { type: 'handOver', memberId: HOST }, 'PERMISSION_DENIED');
  room.change('a', { type: 'setRole', memberId: HOST, role: 'member' });
  room.refused(HOST, { type: 'clear' }, 'PERMISSION_DENIED');
  assert.equal(viewRoom(room.s, { now: T0, viewer: 'a' }).me?.role, 'host');
});

void test('removing a member: entries stay or go as asked; the host and oneself cannot be removed', () => {
  const room = Room.create({ autoplay: false }, ['a', 'b', 'c']);
  room.add('a', 't1');
  room.add('a', 't2');
  room.add('b', 't3');
  room.refused(
    'b',
    { type: 'removeMember', memberId: 'a', removeEntries: false, ban: false },
    'PERMISSION_DENIED',
  );
  room.change(HOST, { type: 'removeMember', memberId: 'a', removeEntries: true, ban: false });
  assert.deepEqual(room.eventTypes(), ['memberRemoved', 'entryRemoved', 'entryRemoved']);
  assert.deepEqual(room.queueIds(), ['e-t3']);
  assert.equal(room.s.members.has('a'), false);
  // A removed member's writes are refused; they are not banned, so they may join again.
  room.refused(
    'a',
    {
      type: 'addTrack',
      entryId: 'x',
      track: { trackId: 'x', title: 'x', artist: '', album: '', durationMs: 1000 },
    },
    'PERMISSION_DENIED',
  );
  room.change(HOST, { type: 'removeMember', memberId: 'b', removeEntries: false, ban: false });
  assert.deepEqual(room.queueIds(), ['e-t3'], 'entries stay when the host says so');
  room.refused(
    HOST,
    { type: 'removeMember', memberId: HOST, removeEntries: false, ban: false },
    'PERMISSION_DENIED',
  );
  room.change(HOST, { type: 'setRole', memberId: 'c', role: 'cohost' });
  room.refused(
    'c',
    { type: 'removeMember', memberId: 'c', removeEntries: false, ban: false },
    'PERMISSION_DENIED',
  );
  room.refused(
    HOST,
    { type: 'removeMember', memberId: 'c', removeEntries: 'yes', ban: false },
    'INVALID_ARGUMENT',
  );
});

void test('a co-host removes plain members but not other co-hosts', () => {
  const room = Room.create({}, ['a', 'b', 'c']);
  room.change(HOST, { type: 'setRole', memberId: 'a', role: 'cohost' });
  room.change(HOST, { type: 'setRole', memberId: 'b', role: 'cohost' });
  room.refused(
    'a',
    { type: 'removeMember', memberId: 'b', removeEntries: false, ban: false },
    'PERMISSION_DENIED',
  );
  room.change('a', { type: 'removeMember', memberId: 'c', removeEntries: false, ban: true });
});

void test('a ban refuses the member for good, and joins that send the same client key', () => {
  const room = Room.create({}, []);
  room.change(null, { type: 'join', memberId: 'a', name: 'A', clientKeyHash: hash('browser-of-a') });
  assert.equal(
    room.event('memberJoined').member.clientKeyHash,
    undefined,
    'the event does not carry the hash',
  );
  assert.equal(viewRoom(room.s, { now: T0, viewer: 'a' }).me?.role, 'member');
  assert.equal(Object.hasOwn(viewRoom(room.s, { now: T0, viewer: 'a' }).me ?? {}, 'clientKeyHash'), false);
  room.change(HOST, { type: 'removeMember', memberId: 'a', removeEntries: false, ban: true });
  assert.equal(isBannedMember(room.s, 'a'), true);
  assert.deepEqual(room.event('memberRemoved'), {
    ...room.event('memberRemoved'),
    memberId: 'a',
    banned: true,
  });
  room.refused(
    null,
    { type: 'join', memberId: 'a2', name: 'A', clientKeyHash: hash('browser-of-a') },
    'PERMISSION_DENIED',
  );
  // Another browser (or none) is not stopped: a ban is as good as the key the client keeps.
  room.change(null, { type: 'join', memberId: 'a3', name: 'A', clientKeyHash: hash('another-browser') });
  room.change(null, { type: 'join', memberId: 'a4', name: 'A' });
  room.refused(
    null,
    { type: 'join', memberId: 'a5', name: 'A', clientKeyHash: 'not-a-hash' },
    'INVALID_ARGUMENT',
  );
});

void test('a join that waits for approval keeps its client key: once admitted and banned, that key is refused', () => {
  const room = Room.create({ joinPolicy: 'approval' }, []);
  room.ok(null, { type: 'join', memberId: 'a', name: 'A', clientKeyHash: hash('browser-of-a') });
  assert.equal(
    Object.hasOwn(viewRoom(room.s, { now: T0, viewer: HOST }).pendingJoins[0] ?? {}, 'clientKeyHash'),
    false,
    'the host sees the request, not the hash',
  );
  // Kept through a snapshot while it waits.
  room.state = restore(JSON.parse(JSON.stringify({ format: 'chorus.room/1', state: room.s })));
  room.change(HOST, { type: 'decideJoin', memberId: 'a', approve: true });
  assert.equal(room.event('memberJoined').member.clientKeyHash, undefined, 'the event does not carry it');
  assert.equal(room.s.members.get('a')?.clientKeyHash, hash('browser-of-a'));
  room.change(HOST, { type: 'removeMember', memberId: 'a', removeEntries: false, ban: true });
  const err = room.refused(
    null,
    { type: 'join', memberId: 'a2', name: 'A', clientKeyHash: hash('browser-of-a') },
    'PERMISSION_DENIED',
  );
  assert.equal(err.reason, 'MEMBER_BANNED');
  room.ok(null, { type: 'join', memberId: 'a3', name: 'A', clientKeyHash: hash('another-browser') });
});

void test('the recovery key makes a new host and revokes the old host identity', () => {
  const room = privateRoom(['a']);
  room.refused(
    null,
    { type: 'recoverHost', memberId: 'h2', keyHash: hash('wrong key') },
    'PERMISSION_DENIED',
  );
  room.refused(null, { type: 'recoverHost', memberId: 'h2', keyHash: 'short' }, 'INVALID_ARGUMENT');
  room.change(null, { type: 'recoverHost', memberId: 'h2', keyHash: hash(KEY) });
  assert.equal(room.s.hostId, 'h2');
  assert.equal(room.s.members.get('h2')!.name, 'Hosty');
  assert.equal(room.s.members.has(HOST), false, 'the lost host id leaves the room');
  room.refused(HOST, { type: 'setLocked', locked: true }, 'PERMISSION_DENIED');
  room.change('h2', { type: 'setLocked', locked: true });
  // The key still works (the host keeps one key).
  room.change(null, { type: 'recoverHost', memberId: 'h3', keyHash: hash(KEY) });
  assert.equal(room.s.hostId, 'h3');
});

void test('a hand-over retires the recovery key; the new host makes one, shown to nobody else', () => {
  const room = privateRoom(['a', 'b']);
  room.change(HOST, { type: 'handOver', memberId: 'a', retireRecoveryKey: true });
  assert.equal(room.s.recoveryKeyHash, undefined, 'no key works after a hand-over');
  assert.deepEqual(room.s.retiredRecoveryKeys, [hash(KEY)]);
  // The old host (a co-host now) cannot take the room back with the key they kept.
  const retired = room.refused(
    null,
    { type: 'recoverHost', memberId: 'h2', keyHash: hash(KEY) },
    'PERMISSION_DENIED',
  );
  assert.equal(retired.reason, 'RECOVERY_KEY_RETIRED');
  const guessed = room.refused(
    null,
    { type: 'recoverHost', memberId: 'h2', keyHash: hash('guess') },
    'PERMISSION_DENIED',
  );
  assert.equal(guessed.reason, 'RECOVERY_KEY_WRONG', 'a key that never was is only wrong');
  // Only the host makes a key: not the old host (a co-host now), not a member.
  for (const who of [HOST, 'b']) {
    const err = room.refused(who, { type: 'newRecoveryKey', keyHash: hash('k2') }, 'PERMISSION_DENIED');
    assert.equal(err.reason, 'HOST_ONLY');
  }
  room.refused('a', { type: 'newRecoveryKey', keyHash: 'not-a-hash' }, 'INVALID_ARGUMENT');
  assert.equal(
    room.refused('a', { type: 'newRecoveryKey', keyHash: hash(KEY) }, 'INVALID_ARGUMENT').reason,
    'RECOVERY_KEY_REUSED',
    'a retired key never comes back',
  );
  room.ok('a', { type: 'newRecoveryKey', keyHash: hash('k2') });
  assert.deepEqual(room.last.events, [], 'no event: the key is the host’s alone');
  assert.equal(room.s.recoveryKeyHash, hash('k2'));
  // A second new key retires the first.
  room.ok('a', { type: 'newRecoveryKey', keyHash: hash('k3') });
  assert.deepEqual(room.s.retiredRecoveryKeys, [hash(KEY), hash('k2')]);
  assert.equal(
    room.refused(null, { type: 'recoverHost', memberId: 'h2', keyHash: hash('k2') }, 'PERMISSION_DENIED')
      .reason,
    'RECOVERY_KEY_RETIRED',
  );
  room.change(null, { type: 'recoverHost', memberId: 'h3', keyHash: hash('k3') });
  assert.equal(room.s.hostId, 'h3');
  assert.equal(room.s.members.has('a'), false, 'the host it replaced leaves the room');
  // Kept through a snapshot.
  const back = restore(JSON.parse(JSON.stringify({ format: 'chorus.room/1', state: room.s })));
  assert.deepEqual(back.retiredRecoveryKeys, room.s.retiredRecoveryKeys);
  room.refused('h3', { type: 'handOver', memberId: 'b', retireRecoveryKey: 'yes' }, 'INVALID_ARGUMENT');
});

void test('a hand-over written before keys were retired (no retireRecoveryKey) keeps the key, as it did', () => {
  const room = privateRoom(['a']);
  room.change(HOST, { type: 'handOver', memberId: 'a' });
  assert.equal(room.s.recoveryKeyHash, hash(KEY));
  assert.equal(room.s.retiredRecoveryKeys, undefined);
  room.change(null, { type: 'recoverHost', memberId: 'h2', keyHash: hash(KEY) });
  // A room without a key handed over stays without one (nothing to retire).
  const plain = Room.create({}, ['a']);
  plain.change(HOST, { type: 'handOver', memberId: 'a', retireRecoveryKey: true });
  assert.equal(plain.s.retiredRecoveryKeys, undefined);
});

void test('a room keeps the last few retired keys only; older ones are merely wrong', () => {
  const room = Room.create({}, []);
  for (let i = 0; i < RETIRED_KEYS_KEPT + 3; i++)
    room.ok(HOST, { type: 'newRecoveryKey', keyHash: hash(`k${i}`) });
  assert.equal(room.s.retiredRecoveryKeys?.length, RETIRED_KEYS_KEPT);
  const reasonFor = (key: string) =>
    room.refused(null, { type: 'recoverHost', memberId: 'r', keyHash: hash(key) }, 'PERMISSION_DENIED')
      .reason;
  assert.equal(reasonFor('k0'), 'RECOVERY_KEY_WRONG');
  assert.equal(reasonFor(`k${RETIRED_KEYS_KEPT + 1}`), 'RECOVERY_KEY_RETIRED');
});

void test('a private room with an invite: joins without it are refused exactly as a missing room', () => {
  const room = privateRoom(['a']);
  const missing = apply(null, {
    commandId: 'c-missing',
    roomId: ROOM_ID,
    actor: null,
    at: T0,
    command: { type: 'join', memberId: 'x', name: 'X' },
  });
  const withoutInvite = room.refused(null, { type: 'join', memberId: 'x', name: 'X' }, 'NOT_FOUND');
  const wrongInvite = room.refused(
    null,
    { type: 'join', memberId: 'x', name: 'X', invite: 'wrong-invite-0000000' },
    'NOT_FOUND',
  );
  assert.ok(!missing.result.ok);
  assert.deepEqual(withoutInvite, missing.result.error);
  assert.deepEqual(wrongInvite, missing.result.error);
  room.change(null, { type: 'join', memberId: 'x', name: 'X', invite: INVITE });

  assert.equal(mayEnter(room.s, { memberId: null, invite: null }), false);
  assert.equal(mayEnter(room.s, { memberId: 'a', invite: null }), true, 'members enter without the invite');
  assert.equal(mayEnter(room.s, { memberId: null, invite: INVITE }), true);
  assert.equal(viewRoom(room.s, { now: T0, viewer: HOST }).invite, INVITE, 'the host sees the invite');
  assert.equal(viewRoom(room.s, { now: T0, viewer: 'a' }).invite, undefined, 'members do not');
  assert.equal(viewRoom(room.s, { now: T0 }).invite, undefined);

  // A new invite closes the old links.
  room.refused('a', { type: 'setInvite', invite: 'another-invite-12345678' }, 'PERMISSION_DENIED');
  room.refused(HOST, { type: 'setInvite', invite: 'short' }, 'INVALID_ARGUMENT');
  room.ok(HOST, { type: 'setInvite', invite: 'another-invite-12345678' });
  assert.equal(mayEnter(room.s, { memberId: null, invite: INVITE }), false);
  // Public again: the id is enough.
  room.change(HOST, { type: 'updateSettings', patch: { public: true } });
  assert.equal(mayEnter(room.s, { memberId: null, invite: null }), true);
});

void test('a room written before access rules loads and keeps working by id; its host can set an invite', () => {
  const state = restore(JSON.parse(readFileSync(FIXTURE, 'utf8')));
  const send = (s: RoomState, actor: string | null, command: Command, n: number) =>
    apply(s, { commandId: `acc-${n}`, roomId: SNAP_ROOM, actor, at: 1_780_000_000_000 + n, command });
  assert.equal(viewRoom(state, { now: 0, viewer: SNAP_HOST }).me?.role, 'host');
  const recovered = send(state, null, { type: 'recoverHost', memberId: 'h2', keyHash: hash(KEY) }, 1);
  assert.equal(recovered.result.ok, false, 'no recovery key was ever issued');
  let s = send(state, SNAP_HOST, { type: 'updateSettings', patch: { public: false } }, 2).state!;
  assert.equal(mayEnter(s, { memberId: null, invite: null }), true, 'an old private room works by id');
  const joined = send(s, null, { type: 'join', memberId: 'late', name: 'Late' }, 3);
  assert.equal(joined.result.ok, true);
  s = send(joined.state!, SNAP_HOST, { type: 'setInvite', invite: INVITE }, 4).state!;
  assert.equal(mayEnter(s, { memberId: null, invite: null }), false, 'until the host sets an invite');
  assert.equal(mayEnter(s, { memberId: 'late', invite: null }), true);
  const cohost = send(s, SNAP_HOST, { type: 'setRole', memberId: 'm1', role: 'cohost' }, 5);
  assert.equal(cohost.result.ok, true);
  assert.equal((viaJson(cohost.state!).members as unknown as Record<string, Member>)['m1']!.coHost, true);
});

// ---- Properties ----------------------------------------------------------------------------------

const PEOPLE = [HOST, 'a', 'b', 'c', 'd'] as const;
const who = fc.constantFrom<string | null>(...PEOPLE, null);
const target = fc.constantFrom<string>(...PEOPLE, 'nobody');
const accessCommand: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    type: fc.constant('setRole' as const),
    memberId: target,
    role: fc.constantFrom('cohost' as const, 'member' as const),
  }),
  fc.record({ type: fc.constant('handOver' as const), memberId: target }),
  fc.record({
    type: fc.constant('handOver' as const),
    memberId: target,
    retireRecoveryKey: fc.constant(true),
  }),
  fc.record({
    type: fc.constant('newRecoveryKey' as const),
    keyHash: fc.constantFrom(hash(KEY), hash('k1'), hash('k2')),
  }),
  fc.record({
    type: fc.constant('removeMember' as const),
    memberId: target,
    removeEntries: fc.boolean(),
    ban: fc.boolean(),
  }),
  fc.record({
    type: fc.constant('recoverHost' as const),
    memberId: fc.constantFrom('r1', 'r2', 'a'),
    keyHash: fc.constantFrom(hash(KEY), hash('k1'), hash('k2'), hash('guess')),
  }),
  fc
    .record({
      type: fc.constant('join' as const),
      memberId: fc.constantFrom(...PEOPLE.slice(1), 'e', 'f'),
      name: fc.constant('N'),
      invite: fc.option(fc.constantFrom(INVITE, 'wrong-invite-0000000'), { nil: undefined }),
      clientKeyHash: fc.option(fc.constantFrom(hash('k1'), hash('k2')), { nil: undefined }),
    })
    .map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as Command),
  fc.record({ type: fc.constant('setLocked' as const), locked: fc.boolean() }),
);

void test('property: one host, named by hostId; co-hosts are never the host; the banned stay out', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(who, accessCommand), { maxLength: 40 }), (steps) => {
      let state = privateRoom(['a', 'b']).s;
      const bannedKeys = new Set<string>();
      const retiredKeys = new Set<string>();
      steps.forEach(([actor, command], i) => {
        const env: Envelope = { commandId: `p-${i}`, roomId: ROOM_ID, actor, at: T0 + i, command };
        const before = state;
        const out = apply(state, env);
        if (!out.result.ok) {
          assert.equal(out.state, before, 'a refused command leaves the room untouched');
          return;
        }
        state = out.state!;
        const hosts = state.members.values().filter((m) => m.isHost);
        assert.equal(hosts.length, 1, 'exactly one host');
        assert.equal(hosts[0]!.memberId, state.hostId);
        for (const m of state.members.values()) {
          assert.ok(!(m.isHost && m.coHost === true), 'the host is not also a co-host');
          assert.ok(!isBannedMember(state, m.memberId), 'a banned member is not a member');
          if (m.clientKeyHash !== undefined && command.type === 'join' && command.memberId === m.memberId) {
            assert.ok(!bannedKeys.has(m.clientKeyHash), 'a banned client key does not join again');
          }
        }
        for (const b of state.bans ?? []) if (b.clientKeyHash !== undefined) bannedKeys.add(b.clientKeyHash);
        // Whoever acted successfully with host powers held them before the command.
        if (['setLocked', 'removeMember'].includes(command.type) && actor !== null) {
          assert.ok(
            hasHostPowers(before.members.get(actor)!),
            `${command.type} by a member with host powers`,
          );
        }
        if (command.type === 'join') {
          assert.equal(command.invite, INVITE, 'only the invite opens a private room');
        }
        // Recovery keys: one works at most; once retired, a key never works again.
        if (command.type === 'recoverHost')
          assert.ok(!retiredKeys.has(command.keyHash), 'a retired key recovers');
        if (command.type === 'newRecoveryKey')
          assert.ok(before.members.get(actor!)!.isHost, 'only the host makes keys');
        if (command.type === 'handOver' && command.retireRecoveryKey === true && state !== before) {
          assert.equal(state.recoveryKeyHash, undefined, 'a hand-over leaves no key working');
        }
        if (before.recoveryKeyHash !== undefined && state.recoveryKeyHash !== before.recoveryKeyHash) {
          retiredKeys.add(before.recoveryKeyHash);
        }
        if (state.recoveryKeyHash !== undefined) assert.ok(!retiredKeys.has(state.recoveryKeyHash));
      });
    }),
    fcParams(200),
  );
});
