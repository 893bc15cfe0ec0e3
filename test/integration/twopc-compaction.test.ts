// The 2PC log's compaction on three real processes (each compacting every 40 records through
// CHORUS_2PC_COMPACT_EVERY): many transactions, and every node snapshots and deletes the segments
// before it; a node SIGKILLed and restarted starts from its snapshot and replays only the records
// after it, holding the same rooms as its peers; a node down while the others compact (the writes
// meanwhile fail, and their aborted attempts fill the others' logs) comes back, catches up and
// takes part again, and every node ends with the same rooms.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cleanupChorus } from '../helpers/chorus-process.ts';
import { ok, type Json } from '../helpers/http.ts';
import { twoPcProcesses, type TwoPcProcesses } from '../helpers/twopc-processes.ts';
import { until } from '../helpers/until.ts';

after(cleanupChorus);

const COMPACT = { CHORUS_2PC_COMPACT_EVERY: '40' };
const ROOMS = 4;

void describe('2PC log compaction on 3 processes', () => {
  let g: TwoPcProcesses;
  const rooms = Array.from({ length: ROOMS }, (_, i) => `compact-${Date.now()}-${i}`);
  let joined = 0;

  const compaction = async (i: number): Promise<Json> => (await g.cluster(i)).details.compaction;

  /** Joins `count` members, spread over the rooms and the nodes, a few at a time; all must commit. */
  async function joinMany(count: number, nodes: readonly number[]): Promise<void> {
    for (let batch = 0; batch < count; batch += ROOMS) {
      await Promise.all(
        rooms.map(async (room, r) => {
          const n = joined + batch + r;
          const node = nodes[n % nodes.length]!;
          ok(await g.api(node).post(`/v1/rooms/${room}/members`, { name: `M${n}` }), 201);
        }),
      );
    }
    joined += count;
  }

  /** Every node holds every room at the same version with the same members. */
  async function sameRooms(): Promise<void> {
    for (const room of rooms) {
      await until(`every node to hold ${room} alike`, async () => {
        const views: Json[] = await Promise.all([0, 1, 2].map((i) => g.view(i, room)));
        const key = (v: Json) => JSON.stringify([v.version, v.memberCount]);
        return views.every((v) => key(v) === key(views[0])) ? true : undefined;
      });
    }
  }

  before(async () => {
    g = await twoPcProcesses(3, { args: ['--no-legacy'] });
    await Promise.all([0, 1, 2].map((i) => g.start(i, COMPACT)));
    await g.ready();
    for (const room of rooms)
      ok(await g.api(0).post('/v1/rooms', { name: room, hostName: 'Host', roomId: room }), 201);
  });
  after(async () => {
    await g.stopAll();
  });

  void it('many transactions: every node snapshots and deletes the segments before it', async () => {
    await joinMany(48, [0, 1, 2]);
    for (let i = 0; i < 3; i++) {
      const c: Json = await until(`n${i + 1} to have compacted`, async () => {
        const now: Json = await compaction(i);
        return now.snapshots >= 1 && now.removedFiles >= 1 ? (now as object) : undefined;
      });
      assert.ok(c.snapshotLsn > 0, JSON.stringify(c));
      assert.ok(c.segments <= 2, `old segments are gone: ${JSON.stringify(c)}`);
    }
    await sameRooms();
  });

  void it('SIGKILL and restart: the node starts from its snapshot, not from the whole history', async () => {
    const before: Json = await compaction(1);
    const logLsn = (await g.cluster(1)).details.logLsn as number;
    await g.kill(1);
    await g.start(1, COMPACT);
    await g.ready();
    // The log may still grow between reading logLsn and the kill (a decision's acknowledgements are
    // logged after the write is answered): the restarted node's own log position bounds the replay.
    // It may also compact again once started: the snapshot it started from is the one that counts.
    const status: Json = (await g.cluster(1)).details;
    const c: Json = status.compaction;
    const from = c.startedFromSnapshotLsn as number;
    assert.ok(from >= before.snapshotLsn && from > 0, JSON.stringify(c));
    assert.ok(
      c.replayedAtStart <= status.logLsn - from && c.replayedAtStart < logLsn,
      `replayed ${c.replayedAtStart} records of ${logLsn} (${status.logLsn} now): only those after the snapshot at ${from}`,
    );
    await sameRooms();
    await joinMany(8, [1]);
    await sameRooms();
  });

  void it('a node down while the others compact catches up and takes part again', async () => {
    await g.kill(2);
    const before = [(await compaction(0)).snapshotLsn as number, (await compaction(1)).snapshotLsn as number];
    // Writes fail while n3 is down (every node must vote); their aborted attempts fill the logs.
    await until(
      'n1 and n2 to compact while n3 is down',
      async () => {
        const answers = await Promise.all(
          rooms.map((room, r) => g.api(r % 2).post(`/v1/rooms/${room}/members`, { name: `Down${r}` })),
        );
        for (const a of answers) assert.equal(a.status, 503, a.text);
        const now = [
          (await compaction(0)).snapshotLsn as number,
          (await compaction(1)).snapshotLsn as number,
        ];
        return now[0]! > before[0]! && now[1]! > before[1]! ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 0 },
    );
    await g.start(2, COMPACT);
    await g.ready();
    await joinMany(8, [2, 0, 1]);
    await sameRooms();
    for (const room of rooms) {
      const view: Json = await g.view(2, room);
      assert.equal(view.memberCount, 1 + joined / ROOMS, `${room} on n3 holds every member joined`);
    }
  });
});
