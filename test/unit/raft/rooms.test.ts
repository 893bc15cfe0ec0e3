// The Raft store's snapshot data, serialised beside the Ready loop (rooms.ts): rooms captured at one
// index and serialised after more entries were applied give exactly the rooms at that index, in the
// JSON that `restore` reads and that `JSON.stringify({ format, rooms, peers })` would write.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'node:test';
import { snapshot } from '../../../src/domain/index.ts';
import { encodeCommand } from '../../../src/store/codec.ts';
import { Lifecycle } from '../../../src/store/lifecycle.ts';
import { SILENT_LOGGER } from '../../../src/store/logger.ts';
import { parseSnapshot, RaftRooms, serialiseRooms } from '../../../src/store/raft/rooms.ts';
import type { Entry } from '../../../src/store/raft/types.ts';
import { cmd, envelope, OPEN_SETTINGS, roomId } from '../../helpers/store-envelopes.ts';

function log(): Entry[] {
  const envs = [];
  const rooms = [roomId('a'), roomId('b'), roomId('c')];
  for (const room of rooms) envs.push(cmd.createRoom(room, 'host', OPEN_SETTINGS));
  for (let i = 0; i < 30; i++) {
    const room = rooms[i % rooms.length]!;
    envs.push(cmd.addTrack(room, 'host', `e${i}`));
    if (i % 4 === 0) envs.push(cmd.vote(room, 'host', `e${i}`, 1));
  }
  return envs.map((env, i) => ({ index: i + 1, term: 1, type: 'normal', data: encodeCommand(env).json }));
}

function roomsUpTo(entries: readonly Entry[], index: number): RaftRooms {
  const rooms = new RaftRooms(new Lifecycle('test'), 1_000, SILENT_LOGGER);
  for (const e of entries) if (e.index <= index) rooms.apply(e);
  return rooms;
}

const peers = [{ id: 'n1', address: '127.0.0.1:1' }];

void describe('raft rooms: snapshot data', () => {
  void test('captured at an index, serialised later: the rooms at that index, in the one JSON form', async () => {
    const entries = log();
    const at = 20;
    const live = roomsUpTo(entries, at);
    const captured = live.capture();
    for (const e of entries) if (e.index > at) live.apply(e);
    const data = await serialiseRooms(captured, peers);

    const then = roomsUpTo(entries, at);
    const states = then.capture();
    assert.equal(
      data.toString('utf8'),
      JSON.stringify({ format: 'chorus.raft-rooms/1', rooms: states.map((s) => snapshot(s)), peers }),
    );
    assert.ok(!(await serialiseRooms(live.capture(), peers)).equals(data), 'the live rooms moved on');

    // What a follower installs from it is the rooms at that index.
    const installed = new RaftRooms(new Lifecycle('test'), 1_000, SILENT_LOGGER);
    assert.deepEqual(
      await installed.restore({ meta: { index: at, term: 1, conf: { voters: ['n1'], learners: [] } }, data }),
      peers,
    );
    assert.ok((await serialiseRooms(installed.capture(), peers)).equals(data));
    // A snapshot as the storage reads it back, or as it arrives from the leader (bytes), installs the same.
    const fromText = new RaftRooms(new Lifecycle('test'), 1_000, SILENT_LOGGER);
    await fromText.restore({
      meta: { index: at, term: 1, conf: { voters: ['n1'], learners: [] } },
      data: data.toString('utf8'),
    });
    assert.ok((await serialiseRooms(fromText.capture(), peers)).equals(data));
  });
});

void describe('raft rooms: parsing snapshot data a room at a time', () => {
  // Text made of what could fool a scanner of brackets: brackets, quotes, backslashes, commas,
  // multi-byte UTF-8 (2 and 4 bytes) and control characters.
  const tricky = fc.string({
    unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', ',', ':', 'é', '😀', 'a', ' ', '\n', '\u0001'),
    maxLength: 12,
  });

  void test('any room text parses back to the same rooms and addresses', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ name: tricky, titles: fc.array(tricky, { maxLength: 4 }) }, { noNullPrototype: true }),
          { maxLength: 4 },
        ),
        fc.array(fc.record({ id: tricky, address: tricky }, { noNullPrototype: true }), { maxLength: 3 }),
        async (specs, peers) => {
          const rooms = new RaftRooms(new Lifecycle('test'), 1_000, SILENT_LOGGER);
          let index = 0;
          const apply = (env: ReturnType<typeof envelope>): void => {
            rooms.apply({ index: ++index, term: 1, type: 'normal', data: encodeCommand(env).json });
          };
          for (const [r, spec] of specs.entries()) {
            const room = `room-${r}`;
            apply(envelope(room, 'host', { type: 'createRoom', name: spec.name, hostName: spec.name }));
            for (const [i, title] of spec.titles.entries()) {
              const track = { trackId: `t${i}`, title, artist: title, album: title, durationMs: 1_000 };
              apply(envelope(room, 'host', { type: 'addTrack', entryId: `e${i}`, track }));
            }
          }
          const states = rooms.capture();
          const parsed = await parseSnapshot(await serialiseRooms(states, peers));
          assert.deepEqual(
            parsed.states.map((st) => snapshot(st)),
            states.map((st) => snapshot(st)),
          );
          assert.deepEqual(parsed.peers, peers);
        },
      ),
      { numRuns: 200 },
    );
  });

  void test('data laid out otherwise (other key order) is parsed whole, to the same rooms; no data is no rooms', async () => {
    const rooms = roomsUpTo(log(), 40);
    const states = rooms.capture();
    const other = JSON.stringify({
      peers,
      rooms: states.map((st) => snapshot(st)),
      format: 'chorus.raft-rooms/1',
    });
    const parsed = await parseSnapshot(other);
    assert.deepEqual(
      parsed.states.map((st) => snapshot(st)),
      states.map((st) => snapshot(st)),
    );
    assert.deepEqual(parsed.peers, peers);
    assert.deepEqual(await parseSnapshot(''), { states: [], peers: [] });
  });

  void test('a room cut short is refused, not half-restored', async () => {
    const data = await serialiseRooms(roomsUpTo(log(), 40).capture(), peers);
    await assert.rejects(parseSnapshot(data.subarray(0, Math.floor(data.length / 2))));
  });
});
