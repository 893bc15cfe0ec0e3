// The 2PC crash points of issue 17 on three real processes, hit exactly with test-only failpoints
// (CHORUS_FAILPOINTS, src/store/failpoints.ts) rather than a SIGKILL's luck:
// - a participant SIGKILLed right after its PREPARED is fsynced (before it votes): the write is
//   aborted on the vote deadline; restarted, the participant finds the PREPARED in its log and
//   learns the decision (abort) from the coordinator, and the room takes writes again;
// - a coordinator SIGKILLed right after its COMMIT record (before anyone heard it): the others are
//   in doubt and stay blocked (the room answers UNAVAILABLE, reads are served); restarted, the
//   coordinator re-sends COMMIT and every node applies the write;
// - a participant that never answers (SIGSTOP): the coordinator's vote deadline answers the write
//   UNAVAILABLE, and once it runs again writes commit.
// The legacy API is off so that no background write takes the failpoint before the test's own.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cleanupChorus } from '../helpers/chorus-process.ts';
import { ok, type Json } from '../helpers/http.ts';
import { twoPcProcesses, type TwoPcProcesses } from '../helpers/twopc-processes.ts';
import { until } from '../helpers/until.ts';

after(cleanupChorus);

void describe('2PC crash points on 3 processes', () => {
  let g: TwoPcProcesses;
  const room = `crash-${Date.now()}`;

  before(async () => {
    g = await twoPcProcesses(3, { args: ['--no-legacy'] });
    await g.start(0);
    await g.start(1);
    await g.start(2, { CHORUS_FAILPOINTS: 'twopc-after-prepared=kill' });
    await g.ready();
  });
  after(async () => {
    for (const node of g.nodes) if (node?.running === true) node.signal('SIGCONT');
    await g.stopAll();
  });

  const lastDecision = async (i: number): Promise<Json> => (await g.cluster(i)).details.lastDecision;

  void it('a participant killed right after PREPARED restarts and learns the decision', async () => {
    const n3 = g.nodes[2]!;
    const refused = await g.api(0).post('/v1/rooms', { name: 'Crash', hostName: 'Host', roomId: room });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.body.error.code, 'UNAVAILABLE');
    const exit = await n3.exited;
    assert.equal(exit.signal, 'SIGKILL', 'n3 killed itself at the failpoint');
    const decided = await lastDecision(0);
    assert.equal(decided.outcome, 'abort', 'the coordinator aborted on its vote deadline');

    await g.start(2);
    // Its PREPARED survived the SIGKILL: the restarted n3 holds it in doubt, asks n1, and learns
    // the abort of that very transaction (a node without the record would know no decision at all).
    const learned = await until('n3 to learn the decision', async () => {
      const d: Json = await lastDecision(2);
      return d !== null ? (d as object) : undefined;
    });
    assert.deepEqual(learned, decided);
    assert.equal((await g.cluster(2)).details.preparedCount, 0, 'the room is unlocked again');
    await g.ready();
    ok(await g.api(2).post('/v1/rooms', { name: 'Crash', hostName: 'Host', roomId: room }), 201);
    for (let i = 0; i < 3; i++) {
      await until(`node ${i + 1} to hold the room`, async () => (await g.view(i, room)).version === 1);
    }
  });

  void it('a coordinator killed right after its COMMIT record restarts and completes the commit', async () => {
    await g.nodes[0]!.stop();
    await g.start(0, { CHORUS_FAILPOINTS: 'twopc-after-commit-record=kill' });
    await g.ready();
    const n1 = g.nodes[0]!;
    // The answer never comes: n1 dies between its COMMIT record and the COMMIT message.
    await assert.rejects(g.api(0).post(`/v1/rooms/${room}/members`, { name: 'Ann' }));
    assert.equal((await n1.exited).signal, 'SIGKILL', 'n1 killed itself at the failpoint');

    // n2 and n3 voted YES and cannot learn the outcome from each other: blocked, not guessing.
    const doubt: Json = await until('n2 to report the transaction in doubt', async () => {
      const inDoubt: Json[] = (await g.cluster(1)).details.inDoubt;
      return inDoubt.length > 0 ? inDoubt : undefined;
    });
    assert.equal(doubt[0].coordinator, 'n1');
    assert.equal(doubt[0].room, room);
    const blocked = await g.api(1).post(`/v1/rooms/${room}/members`, { name: 'Bob' });
    assert.equal(blocked.status, 503, blocked.text);
    assert.equal((await g.view(1, room)).version, 1, 'reads are served while in doubt');

    await g.start(0);
    for (let i = 0; i < 3; i++) {
      await until(`node ${i + 1} to apply the commit`, async () => (await g.view(i, room)).version === 2);
    }
    await g.ready();
    for (let i = 0; i < 3; i++) {
      assert.equal((await g.view(i, room)).memberCount, 2, `node ${i + 1} has Ann`);
      assert.deepEqual((await g.cluster(i)).details.inDoubt, []);
    }
  });

  void it('a participant that never answers (SIGSTOP) hits the vote deadline', async () => {
    g.nodes[2]!.signal('SIGSTOP');
    try {
      const refused = await g.api(0).post(`/v1/rooms/${room}/members`, { name: 'Cid' });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.body.error.details.reason, 'TWOPC_VOTE_TIMEOUT', refused.text);
      assert.equal(refused.body.error.details.cause, 'timeout', refused.text);
      // n3 at least (a loaded machine may make n2 late too).
      assert.ok((refused.body.error.details.nodes as string[]).includes('n3'), refused.text);
    } finally {
      g.nodes[2]!.signal('SIGCONT');
    }
    await g.ready();
    ok(await g.api(0).post(`/v1/rooms/${room}/members`, { name: 'Cid' }), 201);
    for (let i = 0; i < 3; i++) {
      await until(`node ${i + 1} to hold Cid`, async () => (await g.view(i, room)).version === 3);
    }
  });
});
