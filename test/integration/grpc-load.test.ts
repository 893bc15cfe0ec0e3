// 20 concurrent gRPC clients, each on its own connection, doing mixed calls against one node: adds,
// votes, removes and reads. Afterwards the room must be exactly what the acknowledged calls say:
// every acknowledged add present unless its own removal was acknowledged, every entry's votes the
// last acknowledged vote of each voter, the same room over REST, and a Watch from the start that
// saw every version once.

import { status, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { connect, type Stubs } from '../../src/api/grpc/client.ts';
import type * as pb from '../../src/api/grpc/generated/chorus/v1/index.ts';
import { prng } from '../../src/prng.ts';
import { call, md, soon, watch } from '../helpers/grpc-calls.ts';
import { startGrpcNode, type GrpcNode } from '../helpers/grpc-node.ts';

const CLIENTS = 20;
const CALLS_PER_CLIENT = 60;

let node: GrpcNode;

before(async () => {
  node = await startGrpcNode();
});

after(async () => {
  assert.equal(await node.stop(), 0, node.stderr());
});

/** What the acknowledgements say the room must hold. */
interface Ledger {
  /** entryId -> the client that added it. */
  readonly added: Map<string, number>;
  readonly removed: Set<string>;
  /** `${entryId} ${voter}` -> the last acknowledged vote. */
  readonly votes: Map<string, 1 | -1 | 0>;
  /** Refusals that concurrency explains: voting on or removing an entry another call just removed. */
  refused: number;
  readonly failures: string[];
}

void it('20 concurrent clients doing mixed calls leave a consistent room with every acknowledged add', async () => {
  const roomId = 'load-room';
  const host = await call<pb.JoinResponse__Output>((done) =>
    node.stubs.rooms.CreateRoom(
      {
        name: 'Load',
        hostName: 'Host',
        roomId,
        settings: {
          autoplay: false,
          maxQueueLength: 100_000,
          maxEntriesPerMember: 0,
          voteOffThreshold: 0,
          skipVotes: 0,
        },
      },
      md(),
      soon(),
      done,
    ),
  );
  const watcher = watch(node.stubs, { roomId, afterVersion: host.room!.version });
  const ledger: Ledger = { added: new Map(), removed: new Set(), votes: new Map(), refused: 0, failures: [] };

  const clients: Stubs[] = Array.from({ length: CLIENTS }, () => connect(node.grpcAddress));
  await Promise.all(clients.map((stubs, n) => runClient(stubs, n, roomId, ledger)));
  for (const stubs of clients) stubs.close();

  assert.deepEqual(ledger.failures, [], 'only refusals that concurrency explains');
  const room = await call<pb.Room__Output>((done) =>
    node.stubs.rooms.GetRoom({ roomId, limit: 1000 }, md(), soon(), done),
  );
  const expected = [...ledger.added.keys()].filter((id) => !ledger.removed.has(id)).sort();
  assert.deepEqual(
    room.queue.map((q) => q.entryId).sort(),
    expected,
    'every acknowledged add, minus acknowledged removes',
  );
  assert.equal(room.queueLength, expected.length);
  assert.ok(expected.length > 0);

  for (const item of room.queue) {
    let ups = 0;
    let downs = 0;
    for (const [key, value] of ledger.votes) {
      if (!key.startsWith(`${item.entryId} `)) continue;
      if (value === 1) ups++;
      if (value === -1) downs++;
    }
    assert.deepEqual(
      [item.ups, item.downs, item.score],
      [ups, downs, ups - downs],
      `votes of ${item.entryId}`,
    );
  }
  // Ordered by score descending, then insertion sequence.
  for (let i = 1; i < room.queue.length; i++) {
    const [a, b] = [room.queue[i - 1]!, room.queue[i]!];
    assert.ok(a.score > b.score || (a.score === b.score && a.seq < b.seq), `order at ${i}`);
  }

  // The same room over REST.
  const viaRest = (await (await fetch(`${node.restUrl}/v1/rooms/${roomId}?limit=1000`)).json()) as {
    version: number;
    queue: { entryId: string; score: number }[];
  };
  assert.equal(viaRest.version, room.version);
  assert.deepEqual(
    viaRest.queue.map((q) => [q.entryId, q.score]),
    room.queue.map((q) => [q.entryId, q.score]),
  );

  // The watcher saw every version after the room's creation, once each, in order.
  await watcher.reach(room.version);
  watcher.cancel();
  const versions = watcher.changeVersions();
  const from = host.room!.version;
  assert.deepEqual(
    versions,
    Array.from({ length: room.version - from }, (_, i) => from + 1 + i),
  );
});

async function runClient(stubs: Stubs, n: number, roomId: string, ledger: Ledger): Promise<void> {
  const random = prng(1000 + n);
  const joined = await call<pb.JoinResponse__Output>((done) =>
    stubs.sessions.Join({ roomId, name: `client-${n}` }, md(), soon(), done),
  );
  const token = joined.token;
  const mine: string[] = [];
  const record = (what: string, err: unknown): void => {
    const code = (err as ServiceError).code;
    // Another client may have removed the entry a moment ago: a refusal, not a failure.
    if (code === status.NOT_FOUND) ledger.refused++;
    else ledger.failures.push(`client ${n} ${what}: ${status[code]} ${(err as ServiceError).details}`);
  };

  for (let i = 0; i < CALLS_PER_CLIENT; i++) {
    const dice = random();
    if (dice < 0.45 || mine.length === 0) {
      const track: pb.Track = {
        trackId: `c${n}-t${i}`,
        title: `Track ${i}`,
        artist: `Client ${n}`,
        album: '',
        durationMs: 1000 + i,
      };
      try {
        const added = await call<pb.AddTrackResponse__Output>((done) =>
          stubs.queue.AddTrack({ roomId, track }, md(token), soon(), done),
        );
        ledger.added.set(added.entry!.entryId, n);
        mine.push(added.entry!.entryId);
      } catch (err) {
        record('add', err);
      }
    } else if (dice < 0.75) {
      const ids = [...ledger.added.keys()];
      const entryId = ids[Math.floor(random() * ids.length)]!;
      const direction = (['VOTE_DIRECTION_UP', 'VOTE_DIRECTION_DOWN', 'VOTE_DIRECTION_WITHDRAW'] as const)[
        Math.floor(random() * 3)
      ]!;
      try {
        await call((done) => stubs.queue.Vote({ roomId, entryId, direction }, md(token), soon(), done));
        const value = direction === 'VOTE_DIRECTION_UP' ? 1 : direction === 'VOTE_DIRECTION_DOWN' ? -1 : 0;
        ledger.votes.set(`${entryId} ${joined.memberId}`, value);
      } catch (err) {
        record('vote', err);
      }
    } else if (dice < 0.85) {
      const entryId = mine.splice(Math.floor(random() * mine.length), 1)[0]!;
      try {
        await call((done) => stubs.queue.RemoveEntry({ roomId, entryId }, md(token), soon(), done));
        ledger.removed.add(entryId);
      } catch (err) {
        record('remove', err);
      }
    } else {
      try {
        const room = await call<pb.Room__Output>((done) =>
          stubs.rooms.GetRoom({ roomId, limit: 5 }, md(token), soon(), done),
        );
        assert.equal(room.me?.memberId, joined.memberId);
      } catch (err) {
        record('read', err);
      }
    }
  }
}
