// The protocol scenarios, each a scripted run of the simulation (sim.ts): messages held,
// dropped or injected and nodes crashed at the exact point the scenario names. Every scenario ends
// with the cluster healed and quiet and sim.check() (same rooms everywhere, acknowledged writes
// once, failed writes nowhere, nothing locked or in doubt).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClientAnswer, Message } from '../../../src/store/twopc/types.ts';
import { Sim } from './sim.ts';

const VOTE_TIMEOUT = 20;

function cluster(nodes = 3, limits = {}): Sim {
  const sim = new Sim({ nodes, seed: 42, limits: { voteTimeoutTicks: VOTE_TIMEOUT, ...limits } });
  sim.ready();
  return sim;
}

function answered(sim: Sim, write: string): ClientAnswer {
  sim.until(`${write} answered`, () => sim.answer(write) !== undefined);
  return sim.answer(write)!;
}

function settle(sim: Sim): void {
  sim.healAll();
  sim.until('quiet', () => sim.quiet());
  sim.check();
}

function failure(answer: ClientAnswer): { code: string; reason: unknown; nodes: unknown } {
  assert.ok(!answer.ok, `${answer.id} failed`);
  // The registry's reason for each cause (README's error section), written out here as the oracle.
  const cause = String(answer.error.details?.['cause']);
  const expected: Record<string, string> = {
    locked: 'TWOPC_RACES_LOST',
    version: 'TWOPC_RACES_LOST',
    'in-doubt': 'TWOPC_ROOM_IN_DOUBT',
    'prepared-table-full': 'TWOPC_PREPARED_TABLE_FULL',
    'catching-up': 'TWOPC_CATCHING_UP',
    timeout: 'TWOPC_VOTE_TIMEOUT',
  };
  assert.equal(answer.error.reason, expected[cause] ?? 'TWOPC_WRITE_ABORTED', `the reason for ${cause}`);
  return {
    code: answer.error.code,
    reason: answer.error.details?.['cause'],
    nodes: answer.error.details?.['nodes'],
  };
}

const is =
  <T extends Message['type']>(type: T, from?: string, to?: string) =>
  (m: Message): m is Extract<Message, { type: T }> =>
    m.type === type && (from === undefined || m.from === from) && (to === undefined || m.to === to);

void describe('2PC protocol scenarios', () => {
  void test('happy path: a write commits on every node at the next position', () => {
    const sim = cluster();
    const first = answered(sim, sim.write('n0', 'r'));
    const second = answered(sim, sim.write('n2', 'r'));
    assert.deepEqual([first.ok, second.ok], [true, true]);
    assert.ok(first.ok && second.ok);
    assert.deepEqual([first.version, second.version, first.attempts], [1, 2, 1]);
    settle(sim);
    for (const id of sim.ids) assert.deepEqual(sim.order(id, 'r'), [first.id, second.id]);
    assert.equal(sim.live('n0').status().counters.commits, 2);
    assert.deepEqual(sim.live('n2').status().lastDecision, { txn: second.txn, outcome: 'commit' });
  });

  void test('the status knows which peers are reachable, also in an idle cluster', () => {
    const sim = cluster();
    sim.run(100);
    assert.deepEqual(sim.live('n0').status().peersReachable, ['n0', 'n1', 'n2']);
    sim.crash('n2');
    sim.run(30);
    assert.deepEqual(sim.live('n0').status().peersReachable, ['n0', 'n1']);
    sim.start('n2');
    sim.run(15);
    assert.deepEqual(sim.live('n0').status().peersReachable, ['n0', 'n1', 'n2']);
  });

  void test('a locked room votes NO at once, and the lost race is retried after a backoff', () => {
    const sim = cluster();
    // n2 never hears the decision of the first write, so it keeps the room locked until it asks.
    sim.filter = (m) => (is('GlobalDecision', 'n0', 'n2')(m) ? 'drop' : 'deliver');
    const first = answered(sim, sim.write('n0', 'r'));
    assert.ok(first.ok);
    const second = sim.write('n1', 'r');
    const answer = answered(sim, second);
    const noVote = sim.sent.find((m) => is('Vote', 'n2', 'n1')(m) && m.txn === `${second}#1`);
    assert.ok(noVote?.type === 'Vote' && !noVote.yes && noVote.reason === 'locked', 'n2 voted NO: locked');
    assert.ok(answer.ok && answer.attempts > 1 && answer.version === 2, JSON.stringify(answer));
    assert.ok(sim.live('n1').status().counters.retries >= 1);
    settle(sim);
  });

  void test('a participant that crashed before voting makes the write UNAVAILABLE, and nothing stays locked', () => {
    const sim = cluster();
    sim.crash('n2');
    const write = sim.write('n0', 'r');
    assert.deepEqual(failure(answered(sim, write)), {
      code: 'UNAVAILABLE',
      reason: 'timeout',
      nodes: ['n2'],
    });
    sim.run(5);
    for (const id of ['n0', 'n1']) assert.equal(sim.live(id).status().preparedCount, 0, `${id} unlocked`);
    settle(sim);
    assert.ok(answered(sim, sim.write('n1', 'r')).ok, 'writes work again once n2 is back');
    settle(sim);
  });

  void test('a participant that crashed after PREPARED learns the decision on restart', () => {
    const sim = cluster();
    sim.filter = (m) => (is('GlobalDecision', 'n0', 'n2')(m) ? 'drop' : 'deliver');
    const write = sim.write('n0', 'r');
    assert.ok(answered(sim, write).ok);
    assert.equal(sim.live('n2').status().preparedCount, 1, 'n2 is prepared');
    sim.crash('n2');
    sim.filter = () => 'deliver';
    sim.start('n2');
    assert.deepEqual(sim.order('n2', 'r'), [], 'not applied before the decision');
    sim.until('n2 applied it', () => sim.order('n2', 'r').length === 1);
    assert.ok(
      sim.sent.some((m) => is('GetDecision', 'n2', 'n0')(m)),
      'n2 asked the coordinator',
    );
    settle(sim);
  });

  void test('coordinator crash before the decision: participants stay blocked, then abort after asking', () => {
    const sim = cluster();
    sim.filter = (m) => (is('Vote', undefined, 'n0')(m) ? 'hold' : 'deliver');
    const write = sim.write('n0', 'r');
    sim.until('both participants prepared', () =>
      ['n1', 'n2'].every((id) => sim.live(id).status().preparedCount === 1),
    );
    sim.crash('n0');
    sim.held = [];
    sim.run(200);
    for (const id of ['n1', 'n2']) {
      const s = sim.live(id).status();
      assert.equal(s.inDoubt.length, 1, `${id} is in doubt and has not decided alone`);
      assert.equal(s.counters.inDoubt, 1);
      assert.deepEqual(s.peersReachable.includes('n0'), false);
    }
    assert.ok(
      sim.sent.some((m) => is('GetDecision', 'n1', 'n2')(m)),
      'n1 asked its peer too',
    );
    const blocked = answered(sim, sim.write('n1', 'r'));
    assert.deepEqual(failure(blocked).code, 'UNAVAILABLE');
    assert.equal(failure(blocked).reason, 'in-doubt', 'n1 itself refuses: its room is blocked');
    sim.start('n0');
    sim.until('participants unlocked', () =>
      ['n1', 'n2'].every((id) => sim.live(id).status().preparedCount === 0),
    );
    assert.equal(sim.answer(write), undefined, 'the write died with its coordinator');
    settle(sim);
    for (const id of sim.ids) assert.deepEqual(sim.order(id, 'r'), []);
  });

  void test('coordinator crash after its COMMIT record: it restarts and completes the commit', () => {
    const sim = cluster();
    sim.filter = (m) => (is('GlobalDecision', 'n0')(m) ? 'hold' : 'deliver');
    const write = sim.write('n0', 'r');
    assert.ok(answered(sim, write).ok, 'answered once COMMIT was durable');
    sim.crash('n0');
    sim.held = [];
    sim.filter = () => 'deliver';
    sim.start('n0');
    sim.until('everyone applied it', () => sim.ids.every((id) => sim.order(id, 'r').length === 1));
    settle(sim);
    assert.ok(
      sim.get('n0').disk.durable.some((r) => r.kind === 'END' && r.txn === `${write}#1`),
      'END written once every ACK came',
    );
  });

  void test('a COMMIT delivered many times is applied once', () => {
    const sim = cluster();
    sim.duplicate = 1;
    let acksDropped = 0;
    sim.filter = (m) => (m.type === 'Ack' && acksDropped++ < 8 ? 'drop' : 'deliver');
    const write = sim.write('n0', 'r');
    assert.ok(answered(sim, write).ok);
    sim.until('all ACKed', () => sim.live('n0').status().awaitingAcks === 0);
    const commits = sim.sent.filter((m) => is('GlobalDecision', 'n0', 'n1')(m)).length;
    assert.ok(commits >= 3, `COMMIT re-sent until ACKed (${commits} sends)`);
    settle(sim);
    for (const id of sim.ids) assert.deepEqual(sim.order(id, 'r'), [write]);
  });

  void test('a late YES after the coordinator compacted its decision away is answered commit', () => {
    // n2's COMMIT is held, so n0 keeps re-sending it; meanwhile n0 compacts twice, which forgets
    // the decision (two periods) but not the transaction. n2 crashes, restarts in doubt, and a
    // stale copy of its YES reaches n0: the answer must be the commit (seed 900607 got an abort).
    const sim = cluster();
    let yes: Message | undefined;
    sim.filter = (m) => {
      if (is('Vote', 'n2', 'n0')(m)) yes = m;
      return is('GlobalDecision', 'n0', 'n2')(m) ? 'drop' : 'deliver';
    };
    const write = sim.write('n0', 'r');
    assert.ok(answered(sim, write).ok);
    sim.until('n0 compacted twice', () => {
      const n = sim.live('n0');
      return n.status().awaitingAcks === 1 && sim.compact('n0') && sim.compact('n0');
    });
    assert.equal(sim.live('n0').status().awaitingAcks, 1, 'n0 still re-sends the COMMIT');
    sim.crash('n2');
    sim.start('n2');
    assert.ok(yes);
    const before = sim.sent.length;
    sim.inject(yes);
    const answer = sim.sent.slice(before).find((m) => is('GlobalDecision', 'n0', 'n2')(m));
    assert.ok(answer?.type === 'GlobalDecision' && answer.outcome === 'commit', JSON.stringify(answer));
    settle(sim);
    for (const id of sim.ids) assert.deepEqual(sim.order(id, 'r'), [write]);
  });

  void test('a GetDecision while the coordinator is still voting makes it abort', () => {
    const sim = cluster();
    // The coordinator's clock stands still (its vote deadline never passes) and n2's vote is held:
    // the participants, in doubt, ask it.
    sim.paused.add('n0');
    sim.filter = (m) => (is('Vote', 'n2', 'n0')(m) ? 'hold' : 'deliver');
    const write = sim.write('n0', 'r');
    sim.until('a participant asked', () => sim.sent.some((m) => is('GetDecision', undefined, 'n0')(m)));
    const answer = answered(sim, write);
    assert.deepEqual(failure(answer), { code: 'UNAVAILABLE', reason: 'asked', nodes: [] });
    const reply = sim.sent.find((m) => is('DecisionReply', 'n0')(m));
    assert.ok(reply?.type === 'DecisionReply' && reply.outcome === 'abort');
    sim.paused.clear();
    sim.release(() => true); // the late YES changes nothing
    settle(sim);
    for (const id of sim.ids) assert.deepEqual(sim.order(id, 'r'), []);
  });

  void test('cooperative termination: a peer that never voted settles the abort, durably', () => {
    const sim = cluster();
    let lateVoteRequest: Message | undefined;
    sim.filter = (m) => {
      if (is('RequestVote', 'n0', 'n2')(m)) {
        lateVoteRequest = m;
        return 'drop';
      }
      return is('Vote', undefined, 'n0')(m) ? 'drop' : 'deliver';
    };
    sim.write('n0', 'r');
    sim.until('n1 prepared', () => sim.live('n1').status().preparedCount === 1);
    sim.crash('n0');
    // n2 fsyncs only here, and crashes the moment its answer is out: what it promised must be
    // durable by then.
    sim.get('n2').autoFsync = false;
    const replied = () => sim.sent.find((m) => is('DecisionReply', 'n2', 'n1')(m));
    sim.until('n2 answered n1', () => replied() !== undefined || (sim.fsync('n2'), false));
    const reply = replied();
    assert.ok(reply?.type === 'DecisionReply' && reply.outcome === 'abort');
    sim.crash('n2');
    sim.until('n1 settled it with n2', () => sim.live('n1').status().preparedCount === 0);
    // n2 restarts, then the RequestVote it never got arrives: it must not vote YES any more.
    sim.start('n2');
    sim.until('n2 caught up', () => sim.live('n2').status().caughtUp);
    sim.filter = () => 'deliver';
    assert.ok(lateVoteRequest);
    sim.inject(lateVoteRequest);
    const vote = sim.sent.findLast((m) => is('Vote', 'n2', 'n0')(m));
    assert.ok(vote?.type === 'Vote' && !vote.yes && vote.reason === 'aborted', JSON.stringify(vote));
    settle(sim);
  });

  void test('cooperative termination: a peer that knows the commit settles it', () => {
    const sim = cluster();
    sim.filter = (m) =>
      is('GlobalDecision', 'n0', 'n1')(m) || is('Ack', 'n2', 'n0')(m) ? 'drop' : 'deliver';
    const write = sim.write('n0', 'r');
    sim.until('n2 applied it', () => sim.order('n2', 'r').length === 1);
    sim.crash('n0');
    sim.until('n1 applied it', () => sim.order('n1', 'r').length === 1);
    const reply = sim.sent.find((m) => is('DecisionReply', 'n2', 'n1')(m));
    assert.ok(reply?.type === 'DecisionReply' && reply.outcome === 'commit');
    settle(sim);
    for (const id of sim.ids) assert.deepEqual(sim.order(id, 'r'), [write]);
  });

  void test('a participant that never answers: the vote deadline answers UNAVAILABLE', () => {
    const sim = cluster();
    sim.filter = (m) => (m.to === 'n2' ? 'drop' : 'deliver');
    const started = sim.step;
    const write = sim.write('n0', 'r');
    const answer = answered(sim, write);
    assert.deepEqual(failure(answer), { code: 'UNAVAILABLE', reason: 'timeout', nodes: ['n2'] });
    assert.ok(sim.step - started <= VOTE_TIMEOUT + 1, `within the deadline in ticks (${sim.step - started})`);
    sim.run(3);
    assert.equal(sim.live('n1').status().preparedCount, 0, 'n1 released its lock on the ABORT');
    settle(sim);
  });

  void test('the prepared table is bounded: beyond it a node votes NO and the write is UNAVAILABLE', () => {
    const sim = cluster(3, { maxPrepared: 2 });
    sim.filter = (m) =>
      m.to === 'n2' && (m.type === 'GlobalDecision' || m.type === 'DecisionReply') ? 'drop' : 'deliver';
    assert.ok(answered(sim, sim.write('n0', 'a')).ok);
    assert.ok(answered(sim, sim.write('n0', 'b')).ok);
    assert.equal(sim.live('n2').status().preparedCount, 2);
    const third = answered(sim, sim.write('n0', 'c'));
    assert.deepEqual(failure(third), { code: 'UNAVAILABLE', reason: 'prepared-table-full', nodes: ['n2'] });
    assert.equal(sim.live('n2').status().counters.votesNo, 1);
    settle(sim);
  });

  void test('contention on one room: every write commits or is ABORTED after bounded retries', () => {
    const sim = new Sim({ nodes: 5, seed: 7, maxDelay: 3, limits: { maxAttempts: 4 } });
    sim.ready();
    const writes = Array.from({ length: 25 }, (_, i) => sim.write(sim.ids[i % 5]!, 'hot'));
    sim.until('all answered', () => writes.every((w) => sim.answer(w) !== undefined), 5_000);
    const answers = writes.map((w) => sim.answer(w)!);
    const committed = answers.filter((a) => a.ok);
    for (const a of answers) {
      assert.ok(a.attempts <= 4, `${a.id}: ${a.attempts} attempts`);
      if (!a.ok) {
        assert.deepEqual(
          [a.error.code, a.error.reason, a.error.details?.['cause']],
          ['ABORTED', 'TWOPC_RACES_LOST', 'locked'],
        );
      }
    }
    assert.ok(committed.length > 0 && committed.length < 25, `${committed.length} of 25 committed`);
    const retries = sim.ids.reduce((n, id) => n + sim.live(id).status().counters.retries, 0);
    assert.ok(retries > 0, 'lost races were retried');
    settle(sim);
    assert.deepEqual(
      committed.map((a) => (a.ok ? a.version : 0)).sort((x, y) => x - y),
      committed.map((_, i) => i + 1),
    );
  });

  void test('after compaction, a node that lost its disk is refused the history and never votes', () => {
    const sim = cluster();
    for (let i = 0; i < 3; i++) assert.ok(answered(sim, sim.write('n0', 'r')).ok);
    settle(sim);
    for (const id of ['n0', 'n1']) assert.ok(sim.compact(id), `${id} compacted`);
    sim.crash('n2');
    sim.get('n2').disk.durable = [];
    sim.start('n2');
    sim.until('a peer refused the catch-up', () =>
      ['n0', 'n1'].some((id) => sim.live(id).status().counters.catchUpRefused > 0),
    );
    sim.run(50);
    assert.equal(sim.live('n2').status().caughtUp, false, 'it stays out of the votes');
    const refused = answered(sim, sim.write('n0', 'r'));
    assert.deepEqual(failure(refused), { code: 'UNAVAILABLE', reason: 'catching-up', nodes: ['n2'] });
  });

  void test('a node that lost its disk catches up from a peer before it votes again', () => {
    const sim = cluster();
    const before = [sim.write('n0', 'r'), sim.write('n1', 's')].map((w) => answered(sim, w));
    assert.ok(before.every((a) => a.ok));
    settle(sim);
    sim.crash('n2');
    sim.get('n2').disk.durable = [];
    sim.filter = (m) => (is('CatchUpReply', undefined, 'n2')(m) ? 'hold' : 'deliver');
    sim.start('n2');
    const early = answered(sim, sim.write('n0', 'r'));
    assert.deepEqual(failure(early), { code: 'UNAVAILABLE', reason: 'catching-up', nodes: ['n2'] });
    sim.filter = () => 'deliver';
    sim.release(() => true);
    sim.ready();
    assert.equal(sim.live('n2').status().counters.catchUpEntries, 2);
    const after = answered(sim, sim.write('n0', 'r'));
    assert.ok(after.ok && after.version === 2);
    settle(sim);
  });
});
