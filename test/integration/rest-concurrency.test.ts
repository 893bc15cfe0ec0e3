// Concurrency over REST: 20 clients add and vote at once in one room of a real `chorus serve`
// (hundreds of operations). No acknowledged add is missing (the earlier system lost 48-93% here),
// every vote counts exactly once, versions and insertion order follow the real-time order of the
// acknowledgements, and the final state equals a replay of the log: after SIGKILL (no snapshot,
// nothing but the log) the restarted node holds the identical room at the same version.

/* eslint-disable @typescript-eslint/no-unsafe-return --
   Answers are parsed JSON (Json = any): the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { cleanupChorus, startChorus } from '../helpers/chorus-process.ts';
import { Http, ok, type Json } from '../helpers/http.ts';

after(async () => {
  await cleanupChorus();
});

const CLIENTS = 20;
const ADDS_PER_CLIENT = 10;
const VOTES_PER_CLIENT = 10;

interface Op {
  readonly kind: 'add' | 'vote';
  readonly client: number;
  readonly trackId?: string;
  readonly entryId?: string;
  readonly value?: 1 | -1;
  readonly sentAt: number;
  readonly ackAt: number;
  readonly version: number;
  /** For adds: the entry id the node answered with. */
  readonly answeredEntry?: string;
}

function timeless(room: Json): Json {
  const copy = structuredClone(room);
  if (copy.nowPlaying) {
    delete copy.nowPlaying.positionMs;
    delete copy.nowPlaying.remainingMs;
  }
  for (const q of copy.queue as Json[]) delete q.etaMs;
  return copy;
}

void test('20 clients adding and voting at once: nothing lost, every vote once, state equals a replay of the log', async () => {
  const node = await startChorus();
  const api = new Http(node.restUrl);
  const roomId = `busy-${randomUUID().slice(0, 8)}`;
  const created = ok(
    await api.post('/v1/rooms', {
      name: 'Busy',
      hostName: 'Host',
      roomId,
      settings: {
        maxQueueLength: 100_000,
        maxEntriesPerMember: 0,
        voteOffThreshold: 0,
        skipVotes: 0,
        autoplay: false,
      },
    }),
    201,
  );
  const hostToken = created.token as string;
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const joined = ok(await api.post(`/v1/rooms/${roomId}/members`, { name: `c${i}` }), 201);
      return { i, memberId: joined.memberId as string, token: joined.token as string };
    }),
  );

  const ops: Op[] = [];
  const failures: string[] = [];
  const entries: string[] = [];
  const runClient = async (c: (typeof clients)[number]): Promise<void> => {
    const voted = new Set<string>();
    let adds = 0;
    let votes = 0;
    while (adds < ADDS_PER_CLIENT || votes < VOTES_PER_CLIENT) {
      const candidates = entries.filter((e) => !voted.has(e));
      const add =
        adds < ADDS_PER_CLIENT &&
        (votes >= VOTES_PER_CLIENT || candidates.length === 0 || Math.random() < 0.5);
      if (!add && candidates.length === 0) {
        // Nothing left to vote on yet: let the others add.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const sentAt = performance.now();
      if (add) {
        const trackId = `c${c.i}-${adds}`;
        adds++;
        const res = await api.post(
          `/v1/rooms/${roomId}/queue`,
          { track: { trackId, title: `Song ${trackId}`, artist: 'Crowd', album: '', durationMs: 180_000 } },
          { token: c.token },
        );
        if (res.status !== 201) {
          failures.push(`add ${trackId}: ${res.status} ${res.text}`);
          continue;
        }
        entries.push(res.body.entry.entryId as string);
        ops.push({
          kind: 'add',
          client: c.i,
          trackId,
          sentAt,
          ackAt: performance.now(),
          version: res.body.version,
          answeredEntry: res.body.entry.entryId,
        });
      } else {
        const entryId = candidates[Math.floor(Math.random() * candidates.length)]!;
        voted.add(entryId);
        votes++;
        const value = Math.random() < 0.6 ? 1 : -1;
        const res = await api.put(`/v1/rooms/${roomId}/queue/${entryId}/vote`, { value }, { token: c.token });
        if (res.status !== 200) {
          failures.push(`vote ${entryId}: ${res.status} ${res.text}`);
          continue;
        }
        ops.push({
          kind: 'vote',
          client: c.i,
          entryId,
          value,
          sentAt,
          ackAt: performance.now(),
          version: res.body.version,
        });
      }
    }
  };
  await Promise.all(clients.map(runClient));
  assert.deepEqual(failures, [], 'every operation is acknowledged');
  assert.equal(ops.length, CLIENTS * (ADDS_PER_CLIENT + VOTES_PER_CLIENT));

  const live = ok(await api.get(`/v1/rooms/${roomId}?limit=1000`, { token: hostToken }), 200);
  const liveMine = await Promise.all(
    clients.map(async (c) => ok(await api.get(`/v1/rooms/${roomId}?limit=1000`, { token: c.token }), 200)),
  );

  // Nothing lost, nothing doubled: every acknowledged add is in the queue exactly once.
  const adds = ops.filter((o) => o.kind === 'add');
  const queue = live.queue as Json[];
  assert.equal(live.queueLength, adds.length, 'queue length = acknowledged adds');
  assert.equal(queue.length, adds.length);
  const byTrack = new Map(queue.map((q) => [q.track.trackId as string, q]));
  const missing = adds.filter((o) => !byTrack.has(o.trackId!)).map((o) => o.trackId);
  assert.deepEqual(missing, [], `${missing.length} of ${adds.length} acknowledged adds are missing`);
  for (const o of adds)
    assert.equal(byTrack.get(o.trackId!).entryId, o.answeredEntry, 'the entry answered is the one queued');
  assert.deepEqual(
    queue.map((q) => q.seq as number).sort((a, b) => a - b),
    Array.from({ length: adds.length }, (_, i) => i + 1),
    'insertion sequences are 1..n, no gaps, no repeats',
  );
  // Every command changed the room: 1 create + 20 joins + every add and vote.
  assert.equal(live.version, 1 + CLIENTS + ops.length, 'the version counts every acknowledged write once');
  assert.equal(new Set(ops.map((o) => o.version)).size, ops.length, 'each write has its own version');

  // Every vote counts exactly once, and each voter sees their own.
  const byEntry = new Map(queue.map((q) => [q.entryId as string, q]));
  for (const [entryId, entry] of byEntry) {
    const on = ops.filter((o) => o.kind === 'vote' && o.entryId === entryId);
    assert.equal(entry.ups, on.filter((o) => o.value === 1).length, `ups of ${entryId}`);
    assert.equal(entry.downs, on.filter((o) => o.value === -1).length, `downs of ${entryId}`);
    assert.equal(entry.score, entry.ups - entry.downs);
  }
  for (const [k, c] of clients.entries()) {
    const seen = new Map((liveMine[k].queue as Json[]).map((q) => [q.entryId as string, q.myVote as number]));
    for (const o of ops.filter((x) => x.kind === 'vote' && x.client === c.i)) {
      assert.equal(seen.get(o.entryId!), o.value, `client ${c.i}'s vote on ${o.entryId}`);
    }
    const votedOn = new Set(ops.filter((x) => x.kind === 'vote' && x.client === c.i).map((x) => x.entryId));
    for (const [entryId, v] of seen)
      if (!votedOn.has(entryId)) assert.equal(v, 0, `client ${c.i} never voted on ${entryId}`);
  }

  // Order: the queue follows the rule; acknowledgements follow real time (a write acknowledged
  // before another was sent has the lower version, and for adds the lower insertion sequence).
  for (let i = 1; i < queue.length; i++) {
    const a = queue[i - 1];
    const b = queue[i];
    assert.ok(
      a.score > b.score || (a.score === b.score && a.seq < b.seq),
      `queue out of order at position ${i + 1}`,
    );
    assert.equal(b.position, i + 1);
  }
  const byAck = [...ops].sort((x, y) => x.ackAt - y.ackAt);
  let k = 0;
  let maxVersion = 0;
  let maxSeq = 0;
  for (const b of [...ops].sort((x, y) => x.sentAt - y.sentAt)) {
    while (k < byAck.length && byAck[k]!.ackAt < b.sentAt) {
      const a = byAck[k++]!;
      maxVersion = Math.max(maxVersion, a.version);
      if (a.kind === 'add') maxSeq = Math.max(maxSeq, byTrack.get(a.trackId!).seq as number);
    }
    assert.ok(
      b.version > maxVersion,
      `version ${b.version} not after ${maxVersion}, acknowledged before it was sent`,
    );
    if (b.kind === 'add')
      assert.ok(byTrack.get(b.trackId!).seq > maxSeq, `seq of ${b.trackId} not after ${maxSeq}`);
  }

  // The final state equals a replay of the log: kill -9 (no snapshot on the way out), restart.
  const killed = await node.kill();
  assert.equal(killed.signal, 'SIGKILL');
  const replayed = await startChorus({ dataDir: node.dataDir });
  try {
    const again = new Http(replayed.restUrl);
    const view = ok(
      await again.get(`/v1/rooms/${roomId}?limit=1000&minVersion=${live.version}`, { token: hostToken }),
      200,
    );
    assert.equal(view.version, live.version, 'the same version');
    assert.deepEqual(timeless(view), timeless(live), 'the identical room');
    for (const [k2, c] of clients.entries()) {
      const mine = ok(await again.get(`/v1/rooms/${roomId}?limit=1000`, { token: c.token }), 200);
      assert.deepEqual(timeless(mine), timeless(liveMine[k2]), `client ${c.i}'s view`);
    }
  } finally {
    assert.equal(await replayed.stop(), 0, replayed.stderr());
  }
});
