// The Raft store's snapshot data, serialised beside the Ready loop (rooms.ts): rooms captured at one
// index and serialised after more entries were applied give exactly the rooms at that index, in the
// JSON that `restore` reads and that `JSON.stringify({ format, rooms, peers })` would write.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { snapshot } from '../../../src/domain/index.ts';
import { encodeCommand } from '../../../src/store/codec.ts';
import { Lifecycle } from '../../../src/store/lifecycle.ts';
import { SILENT_LOGGER } from '../../../src/store/logger.ts';
import { RaftRooms, serialiseRooms } from '../../../src/store/raft/rooms.ts';
import type { Entry } from '../../../src/store/raft/types.ts';
import { cmd, OPEN_SETTINGS, roomId } from '../../helpers/store-envelopes.ts';

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
      installed.restore({ meta: { index: at, term: 1, conf: { voters: ['n1'], learners: [] } }, data }),
      peers,
    );
    assert.ok((await serialiseRooms(installed.capture(), peers)).equals(data));
    // A snapshot as the storage reads it back, or as it arrives from the leader (bytes), installs the same.
    const fromText = new RaftRooms(new Lifecycle('test'), 1_000, SILENT_LOGGER);
    fromText.restore({
      meta: { index: at, term: 1, conf: { voters: ['n1'], learners: [] } },
      data: data.toString('utf8'),
    });
    assert.ok((await serialiseRooms(fromText.capture(), peers)).equals(data));
  });
});
