// Rooms, members, envelopes, versions and idempotent command ids.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  apply,
  DEFAULT_SETTINGS,
  RECENT_COMMANDS_KEPT,
  type Command,
  type Envelope,
  type RoomState,
} from '../../../src/domain/index.ts';
import { HOST, Room, ROOM_ID, T0, track, viaSnapshot } from './helpers.ts';

const create: Command = { type: 'createRoom', name: '  Friday night  ', hostName: ' Ada ' };

function envelope(overrides: Partial<Record<keyof Envelope, unknown>> = {}): Envelope {
  return { commandId: 'c1', roomId: ROOM_ID, actor: HOST, at: T0, command: create, ...overrides } as Envelope;
}

void describe('createRoom', () => {
  void test('creates the room with the actor as host, default settings and version 1', () => {
    const out = apply(null, envelope());
    assert.deepEqual(out.result, { ok: true, value: { type: 'createRoom', roomId: ROOM_ID, hostId: HOST } });
    const s = out.state!;
    assert.equal(s.id, ROOM_ID);
    assert.equal(s.name, 'Friday night', 'names are trimmed');
    assert.equal(s.hostId, HOST);
    assert.equal(s.createdAt, T0);
    assert.deepEqual(s.settings, DEFAULT_SETTINGS);
    assert.deepEqual(s.members.toJSON(), {
      [HOST]: { memberId: HOST, name: 'Ada', isHost: true, joinedAt: T0 },
    });
    assert.deepEqual([[...s.queue], s.nowPlaying, s.history, s.locked], [[], null, [], false]);
    assert.equal(s.version, 1);
    assert.deepEqual(
      out.events.map((e) => [e.type, e.roomId, e.version, e.at]),
      [
        ['roomCreated', ROOM_ID, 1, T0],
        ['memberJoined', ROOM_ID, 1, T0],
      ],
    );
  });

  void test('applies a settings patch on top of the defaults', () => {
    const out = apply(
      null,
      envelope({ command: { ...create, settings: { maxQueueLength: 7, autoplay: false } } }),
    );
    assert.deepEqual(out.state?.settings, { ...DEFAULT_SETTINGS, maxQueueLength: 7, autoplay: false });
  });

  void test('refuses bad settings, naming the setting and its range, and creates nothing', () => {
    const out = apply(null, envelope({ command: { ...create, settings: { maxQueueLength: 0 } } }));
    assert.equal(out.state, null);
    assert.ok(!out.result.ok);
    assert.equal(out.result.error.code, 'INVALID_ARGUMENT');
    assert.match(out.result.error.message, /maxQueueLength must be a whole number from 1 to 1000000/);
  });

  void test('needs the host id as actor', () => {
    const out = apply(null, envelope({ actor: null }));
    assert.equal(out.state, null);
    assert.ok(!out.result.ok);
    assert.equal(out.result.error.code, 'INVALID_ARGUMENT');
    assert.match(out.result.error.message, /host id/);
  });

  for (const [what, patch, pattern] of [
    ['an empty name', { name: '   ' }, /name must not be empty/],
    ['a name too long', { name: 'x'.repeat(81) }, /name must be at most 80 characters/],
    ['a name with control characters', { name: 'a\nb' }, /name must not contain control characters/],
    ['a name that is not a string', { name: 42 }, /name must be a string/],
    ['an empty host name', { hostName: '' }, /hostName must not be empty/],
  ] as const) {
    void test(`refuses ${what}`, () => {
      const out = apply(null, envelope({ command: { ...create, ...patch } }));
      assert.equal(out.state, null);
      assert.ok(!out.result.ok);
      assert.equal(out.result.error.code, 'INVALID_ARGUMENT');
      assert.match(out.result.error.message, pattern);
    });
  }

  void test('refuses to create a room that exists', () => {
    const room = Room.create();
    const err = room.refused('someone', create, 'ALREADY_EXISTS');
    assert.deepEqual(err.details, { roomId: ROOM_ID });
  });
});

void describe('a room that does not exist', () => {
  const commands: Command[] = [
    { type: 'join', memberId: 'm1', name: 'M' },
    { type: 'addTrack', entryId: 'e1', track: track('t1') },
    { type: 'vote', entryId: 'e1', value: 1 },
    { type: 'advance', expectedEntryId: null, reason: 'finished' },
    { type: 'clear' },
  ];
  for (const command of commands) {
    void test(`${command.type} is NOT_FOUND and creates nothing`, () => {
      const out = apply(null, envelope({ command }));
      assert.equal(out.state, null);
      assert.deepEqual(out.events, []);
      assert.ok(!out.result.ok);
      assert.equal(out.result.error.code, 'NOT_FOUND');
      assert.deepEqual(out.result.error.details, { roomId: ROOM_ID });
    });
  }
});

void describe('envelope validation', () => {
  const cases: [string, Partial<Record<keyof Envelope, unknown>>, RegExp][] = [
    ['an empty command id', { commandId: '' }, /commandId must be 1-128 characters/],
    ['a command id with spaces', { commandId: 'a b' }, /commandId/],
    ['a command id too long', { commandId: 'c'.repeat(129) }, /commandId/],
    ['a command id that is not a string', { commandId: 7 }, /commandId/],
    ['an upper-case room id', { roomId: 'Room' }, /room id must be 1-64 lower-case/],
    ['a room id ending in a dash', { roomId: 'room-' }, /room id/],
    ['a room id too long', { roomId: 'r'.repeat(65) }, /room id/],
    ['an empty actor', { actor: '' }, /actor must be/],
    ['a missing actor', { actor: undefined }, /actor must be/],
    ['a negative time', { at: -1 }, /time must be a whole number of ms/],
    ['a fractional time', { at: 1.5 }, /time/],
    ['a time that is not a number', { at: '1' }, /time/],
    ['a missing command', { command: null }, /command must be an object/],
  ];
  for (const [what, overrides, pattern] of cases) {
    void test(`refuses ${what} with INVALID_ARGUMENT, on an existing room too`, () => {
      for (const state of [null, Room.create().s]) {
        const out = apply(state, envelope({ ...overrides }));
        assert.equal(out.state, state);
        assert.deepEqual(out.events, []);
        assert.ok(!out.result.ok);
        assert.equal(out.result.error.code, 'INVALID_ARGUMENT');
        assert.match(out.result.error.message, pattern);
      }
    });
  }

  void test('refuses an envelope that is not an object', () => {
    const out = apply(null, null as unknown as Envelope);
    assert.ok(!out.result.ok);
    assert.equal(out.result.error.code, 'INVALID_ARGUMENT');
  });

  void test('refuses an unknown command type, naming it', () => {
    const room = Room.create();
    const err = room.refused(HOST, { type: 'dance' }, 'INVALID_ARGUMENT');
    assert.match(err.message, /unknown command type dance/);
  });

  void test('a command for another room is an internal error and changes nothing', () => {
    const room = Room.create();
    const out = apply(room.s, { ...room.envelope(HOST, { type: 'clear' }), roomId: 'other-room' });
    assert.equal(out.state, room.s);
    assert.ok(!out.result.ok);
    assert.equal(out.result.error.code, 'INTERNAL');
  });
});

void describe('join', () => {
  void test('adds a member who is not host', () => {
    const room = Room.create();
    room.now = T0 + 5;
    const value = room.change(null, { type: 'join', memberId: 'm1', name: '  Bo ' });
    assert.deepEqual(value, { type: 'join', memberId: 'm1' });
    const member = { memberId: 'm1', name: 'Bo', isHost: false, joinedAt: T0 + 5 };
    assert.deepEqual(room.s.members.get('m1'), member);
    assert.deepEqual(room.event('memberJoined').member, member);
  });

  void test('refuses a member id already in the room, the host included', () => {
    const room = Room.create({}, ['m1']);
    for (const memberId of ['m1', HOST]) {
      const err = room.refused(null, { type: 'join', memberId, name: 'Again' }, 'ALREADY_EXISTS');
      assert.deepEqual(err.details, { memberId });
    }
  });

  void test('refuses bad member ids and names', () => {
    const room = Room.create();
    for (const [command, pattern] of [
      [
        { type: 'join', memberId: '', name: 'A' },
        /memberId must be 1-128 characters of letters, digits and _.:~-/,
      ],
      [{ type: 'join', memberId: 'a/b', name: 'A' }, /memberId/],
      [{ type: 'join', memberId: 'm9', name: '' }, /name must not be empty/],
      [{ type: 'join', memberId: 'm9', name: 'n'.repeat(81) }, /name must be at most 80/],
      [{ type: 'join', memberId: 'm9' }, /name must be a string/],
      [{ type: 'join', memberId: '~anon:c1', name: 'A' }, /reserved for anonymous votes/],
    ] as const) {
      const err = room.refused(null, command, 'INVALID_ARGUMENT');
      assert.match(err.message, pattern);
    }
  });

  void test('ids that name Object.prototype properties are ordinary ids', () => {
    const room = Room.create({ autoplay: false });
    // Not members yet: they must not find Object.prototype's "constructor" or "__proto__".
    for (const actor of ['constructor', '__proto__', 'toString']) {
      room.refused(actor, { type: 'addTrack', entryId: 'e1', track: track('t1') }, 'PERMISSION_DENIED');
    }
    room.join('constructor', '__proto__');
    assert.ok(room.s.members.has('__proto__'));
    const e1 = room.add('constructor', 't1');
    room.vote('__proto__', e1, -1);
    room.vote('constructor', e1, 1);
    const entry = room.s.queue.at(0)!;
    assert.equal(entry.addedBy, 'constructor');
    assert.deepEqual([entry.ups, entry.downs], [1, 1]);
    assert.deepEqual(entry.votes.entries(), [
      ['__proto__', -1],
      ['constructor', 1],
    ]);
    room.vote('__proto__', e1, 0);
    assert.deepEqual(room.s.queue.at(0)!.votes.entries(), [['constructor', 1]]);
    assert.deepEqual(viaSnapshot(room.s), room.s);
  });
});

void describe('who may act', () => {
  const memberActions: Command[] = [
    { type: 'addTrack', entryId: 'e9', track: track('t9') },
    { type: 'removeEntry', entryId: 'e-t1' },
    { type: 'vote', entryId: 'e-t1', value: 1 },
  ];
  const hostActions: Command[] = [
    { type: 'anonymousVote', entryId: 'e-t1', value: 1 },
    { type: 'advance', expectedEntryId: 'e-t0', reason: 'skipped' },
    { type: 'updateSettings', patch: { maxQueueLength: 3 } },
    { type: 'setLocked', locked: true },
    { type: 'clear' },
  ];
  function roomWithQueue(): Room {
    const room = Room.create({}, ['m1', 'm2']);
    room.add('m1', 't0');
    room.add('m1', 't1');
    return room;
  }

  for (const command of [...memberActions, ...hostActions]) {
    void test(`${command.type} without an actor is UNAUTHENTICATED`, () => {
      const err = roomWithQueue().refused(null, command, 'UNAUTHENTICATED');
      assert.match(err.message, /join the room/);
    });
    void test(`${command.type} by someone who has not joined is PERMISSION_DENIED`, () => {
      const err = roomWithQueue().refused('stranger', command, 'PERMISSION_DENIED');
      assert.match(err.message, /not a member of room room-1/);
    });
  }
  for (const command of hostActions) {
    void test(`${command.type} by a member who is not host is PERMISSION_DENIED`, () => {
      const err = roomWithQueue().refused('m2', command, 'PERMISSION_DENIED');
      assert.match(err.message, /only the host can/);
    });
    void test(`${command.type} by the host is accepted`, () => {
      const room = roomWithQueue();
      room.change(HOST, command);
    });
  }
});

void describe('version', () => {
  void test('counts state-changing commands only', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    assert.equal(room.s.version, 2);
    const e1 = room.add('m1', 't1');
    assert.equal(room.s.version, 3);
    room.refused('m1', { type: 'addTrack', entryId: 'x', track: track('t1') }, 'ALREADY_EXISTS');
    room.noop('m1', { type: 'vote', entryId: e1, value: 0 });
    room.noop(HOST, { type: 'setLocked', locked: false });
    room.noop(HOST, { type: 'updateSettings', patch: { autoplay: false } });
    room.noop(null, { type: 'advance', expectedEntryId: 'someone-else', reason: 'finished' });
    assert.equal(room.s.version, 3);
    room.vote('m1', e1, 1);
    assert.equal(room.s.version, 4);
    assert.ok(room.last.events.every((e) => e.version === 4));
  });
});

void describe('idempotent command ids', () => {
  void test('a repeated command id returns the earlier result and changes nothing', () => {
    const room = Room.create({ autoplay: false }, ['m1', 'm2']);
    const addEnv = room.envelope('m1', { type: 'addTrack', entryId: 'e1', track: track('t1') });
    const first = room.applyEnvelope(addEnv);
    assert.ok(first.result.ok);
    room.vote('m2', 'e1', 1);
    const before = room.s;

    // Retried as is: the track is now "already queued", yet the retry gets the original answer.
    const retry = apply(before, addEnv);
    assert.deepEqual(retry.result, first.result);
    assert.equal(retry.state, before);
    assert.deepEqual(retry.events, []);

    // A different kind of command under a used id is refused, naming what the id was used for.
    const reused = apply(before, { ...addEnv, command: { type: 'clear' }, actor: HOST });
    assert.ok(!reused.result.ok);
    assert.equal(reused.result.error.code, 'INVALID_ARGUMENT');
    assert.match(reused.result.error.message, /already used for a different request/);
    assert.deepEqual(reused.result.error.details, { commandId: addEnv.commandId, usedFor: 'addTrack' });
    assert.equal(reused.state, before);
    assert.deepEqual(reused.events, []);
  });

  void test('a retried vote does not undo a later vote', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 't1');
    const up = room.envelope('m1', { type: 'vote', entryId: 'e-t1', value: 1 });
    room.applyEnvelope(up);
    room.vote('m1', 'e-t1', -1);
    const retry = room.applyEnvelope(up);
    assert.ok(retry.result.ok && retry.result.value.type === 'vote');
    assert.equal(retry.result.value.ups, 1, 'the earlier result');
    assert.deepEqual(room.s.queue.at(0)!.votes.toJSON(), { m1: -1 }, 'the later vote stands');
  });

  void test('a retried createRoom returns the earlier result', () => {
    const room = Room.create();
    const createEnv = {
      commandId: 'cmd-1',
      roomId: ROOM_ID,
      actor: HOST,
      at: T0,
      command: create,
    } as Envelope;
    const retry = apply(room.s, createEnv);
    assert.ok(retry.result.ok);
    assert.deepEqual(retry.result.value, { type: 'createRoom', roomId: ROOM_ID, hostId: HOST });
  });

  void test(`remembers the last ${RECENT_COMMANDS_KEPT} changes, then forgets the oldest`, () => {
    const room = Room.create({ autoplay: false });
    const joins: Envelope[] = [];
    for (let i = 0; i < RECENT_COMMANDS_KEPT; i++) {
      joins.push(room.envelope(null, { type: 'join', memberId: `m${i}`, name: `M${i}` }));
      room.applyEnvelope(joins.at(-1)!);
    }
    // createRoom + RECENT_COMMANDS_KEPT joins: createRoom's id has just been dropped.
    assert.equal(room.s.recent.length, RECENT_COMMANDS_KEPT);
    assert.equal(room.s.recent.at(0)!.commandId, joins[0]!.commandId);
    const stillKnown = apply(room.s, joins[0]!);
    assert.equal(stillKnown.state, room.s);
    assert.ok(stillKnown.result.ok);

    room.join('one-more');
    const forgotten = apply(room.s, joins[0]!);
    assert.ok(!forgotten.result.ok, 'an id beyond the window is treated as new');
    assert.equal(forgotten.result.error.code, 'ALREADY_EXISTS');
  });

  void test('refused commands are not remembered: a retry after the cause is gone can succeed', () => {
    const room = Room.create({ autoplay: false, maxQueueLength: 1 }, ['m1']);
    room.add('m1', 't1');
    const env = room.envelope('m1', { type: 'addTrack', entryId: 'e2', track: track('t2') });
    assert.equal(room.applyEnvelope(env).result.ok, false);
    room.change('m1', { type: 'removeEntry', entryId: 'e-t1' });
    assert.equal(room.applyEnvelope(env).result.ok, true);
  });
});

void describe('immutability', () => {
  void test('apply returns new objects and leaves its input as it was', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 't1');
    const before: RoomState = room.s;
    const copy = viaSnapshot(before);
    room.vote('m1', 'e-t1', 1);
    room.add('m1', 't2');
    room.change(HOST, { type: 'advance', expectedEntryId: null, reason: 'skipped' });
    assert.deepEqual(before, copy);
    assert.notEqual(room.s, before);
  });
});
