// The checks run after a load: every acknowledged write kept (assertAcknowledgedWritesKept),
// every node's view of every room the same (assertNodesAgree), and both against every room's
// replayed Redis stream (checkAfterLoad, what the cluster tests run after each load).

import assert from 'node:assert/strict';
import { historyPage, viewRoom, type RoomState, type RoomView } from '../../src/domain/index.ts';
import type { ClusterNode } from './cluster.ts';
import { call, roomPath } from './cluster-http.ts';
import type { LoadResult, LoadRoom } from './cluster-load.ts';
import { replayFromRedis, type LogArchive, type ReplayedRoom } from './cluster-replay.ts';

// ---- Checks ---------------------------------------------------------------------------------------

/**
 * Every acknowledged write is in the log; every acknowledged add is still in the room (queue, now
 * playing or history) unless one of this load's removes took it out; every acknowledged remove took
 * effect; every member's vote on a still-queued entry is its last acknowledged value (or one sent
 * after it whose outcome is unknown).
 */
export function assertAcknowledgedWritesKept(
  load: LoadResult,
  replays: ReadonlyMap<string, ReplayedRoom>,
): {
  adds: number;
  votes: number;
  removes: number;
} {
  const present = (s: RoomState, entryId: string): boolean =>
    s.queue.some((e) => e.entryId === entryId) ||
    s.nowPlaying?.entry.entryId === entryId ||
    s.history.some((h) => h.entryId === entryId);
  for (const key of load.ackedKeys) {
    assert.ok(
      [...replays.values()].some((r) => r.commandIds.has(key)),
      `acknowledged write ${key} is in a room's log`,
    );
  }
  for (const add of load.adds) {
    const replay = replays.get(add.roomId)!;
    if (present(replay.state, add.entryId)) continue;
    const by = replay.removedBy.get(add.entryId);
    assert.ok(
      by !== undefined && load.removeKeysSent.has(by),
      `acknowledged add ${add.entryId} (room ${add.roomId}, version ${add.version}) is missing, and no remove of ours took it out`,
    );
  }
  for (const remove of load.removes) {
    const state = replays.get(remove.roomId)!.state;
    assert.ok(
      !state.queue.some((e) => e.entryId === remove.entryId),
      `acknowledged remove of ${remove.entryId} took effect`,
    );
  }
  let votes = 0;
  for (const track of load.votes.values()) {
    if (track.acked === null) continue;
    const entry = replays.get(track.roomId)!.state.queue.find((e) => e.entryId === track.entryId);
    if (!entry) continue;
    votes++;
    const final = entry.votes.get(track.memberId);
    const allowed = [track.acked, ...track.uncertain];
    assert.ok(
      allowed.includes(final),
      `vote of ${track.memberId} on ${track.entryId} in ${track.roomId} is ${final}; last acknowledged ${track.acked} (key ${track.ackedKey}), unknown outcomes after it ${JSON.stringify(track.uncertain)}`,
    );
  }
  return { adds: load.adds.length, votes, removes: load.removes.length };
}

/** A view without what depends on the moment it was made (only when something plays). */
function timeless(view: RoomView): unknown {
  if (view.nowPlaying === null) return view;
  const { positionMs: _p, remainingMs: _r, ...np } = view.nowPlaying;
  return { ...view, nowPlaying: np, queue: view.queue.map(({ etaMs: _e, ...item }) => item) };
}

/**
 * Every node, asked directly with minVersion = the replay's version, answers the room at exactly that
 * version, identical to each other and to the replay; every member's own votes (myVote, per node)
 * equal the replay's votes map; the history pages agree.
 */
export async function assertNodesAgree(
  nodes: readonly ClusterNode[],
  room: LoadRoom,
  replay: ReplayedRoom,
): Promise<void> {
  const version = replay.state.version;
  const limit = 1000;
  assert.ok(replay.state.queue.length <= limit, 'the queue fits one page');
  const expected = timeless(viewRoom(replay.state, { now: Date.now(), limit }));
  const q = `?minVersion=${version}&limit=${limit}`;
  await Promise.all(
    nodes.map(async (node) => {
      const reply = await call<RoomView>(node.rest, 'GET', roomPath(room.id, q), { timeoutMs: 15_000 });
      assert.equal(reply.status, 200, `node ${node.index} answers ${room.id}: ${JSON.stringify(reply.body)}`);
      assert.equal(
        reply.body.version,
        version,
        `node ${node.index} is at the replay's version of ${room.id}`,
      );
      assert.deepEqual(
        timeless(reply.body),
        expected,
        `node ${node.index}'s ${room.id} equals the replay of its stream`,
      );
      const history = await call(
        node.rest,
        'GET',
        roomPath(room.id, `/history?minVersion=${version}&limit=200`),
      );
      assert.equal(history.status, 200);
      assert.deepEqual(
        history.body,
        { ...historyPage(replay.state, { limit: 200 }), version },
        `node ${node.index}'s history of ${room.id} equals the replay's`,
      );
    }),
  );
  // Each member's votes, asked of the nodes in turn.
  await Promise.all(
    room.members.map(async (member, i) => {
      const node = nodes[i % nodes.length]!;
      const reply = await call<RoomView>(node.rest, 'GET', roomPath(room.id, q), { token: member.token });
      assert.equal(reply.status, 200);
      const mine = Object.fromEntries(reply.body.queue.map((e) => [e.entryId, e.myVote]));
      const replayed = Object.fromEntries(
        replay.state.queue.map((e) => [e.entryId, e.votes.get(member.memberId)]),
      );
      assert.deepEqual(
        mine,
        replayed,
        `node ${node.index}: ${member.memberId}'s votes in ${room.id} equal the replay's`,
      );
    }),
  );
}

/**
 * After a load on a Redis-backed cluster: stops the log archive, replays every room's whole stream
 * (a snapshot checked against the replay), which must reach every version a client saw; every node
 * must equal the replay, and every acknowledged write must be in it. Prints what it checked.
 */
export async function checkAfterLoad(
  cluster: { readonly redisUrl: string; nodes(): readonly ClusterNode[] },
  rooms: readonly LoadRoom[],
  load: LoadResult,
  archive: LogArchive,
): Promise<void> {
  await archive.stop();
  const t0 = performance.now();
  const replays = new Map<string, ReplayedRoom>();
  for (const room of rooms) {
    const replay = await replayFromRedis(cluster.redisUrl, room.id, { archive });
    assert.equal(replay.firstSeq, 1, 'the whole log is replayed');
    if (replay.snapshotSeq !== null)
      assert.ok(replay.snapshotChecked, 'the snapshot was checked against the replay');
    replays.set(room.id, replay);
    assert.ok(
      replay.state.version >= (load.maxVersion.get(room.id) ?? 0),
      `the replay of ${room.id} reaches every version a client saw`,
    );
    await assertNodesAgree(cluster.nodes(), room, replay);
    console.log(
      `room ${room.id}: version ${replay.state.version}, log 0-${replay.firstSeq}..0-${replay.lastSeq}, ` +
        `snapshot at ${replay.snapshotSeq ?? 'none'}${replay.snapshotChecked ? ' (checked against the replay)' : ''}, ` +
        `queue ${replay.state.queue.length}`,
    );
  }
  const kept = assertAcknowledgedWritesKept(load, replays);
  console.log(
    `checked ${kept.adds} acknowledged adds, ${kept.removes} removes, ${kept.votes} votes on queued entries ` +
      `against the replays; ${cluster.nodes().length} nodes agree (${Math.round(performance.now() - t0)} ms)`,
  );
}
