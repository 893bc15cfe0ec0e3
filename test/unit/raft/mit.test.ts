// The MIT 6.5840 Raft lab tests (src/raft1/raft_test.go, 3A-3D), ported to the deterministic
// simulation. Time is virtual: one tick stands for 100 ms, so the lab's RaftElectionTimeout (1 s)
// is 10 ticks, our electionTick. Index expectations are shifted by the leader's no-op entries, so
// the tests check what the lab means (agreement, order, counts) rather than its exact indexes.
// Every run is seeded; a failure names its seed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Sim, UNRELIABLE, RELIABLE } from './sim.ts';

const ET = 10; // RaftElectionTimeout in ticks

/** The i-th node after `id` in the ring, as the lab's `(leader + i) % servers`. */
function after(sim: Sim, id: string, i: number): string {
  const ids = sim.ids();
  return ids[(ids.indexOf(id) + i) % ids.length]!;
}

function checkTerms(sim: Sim): number {
  const terms = new Set(
    sim
      .ids()
      .filter((id) => sim.connected(id) && sim.alive(id))
      .map((id) => sim.raft(id).term),
  );
  assert.equal(terms.size, 1, `seed ${sim.seed}: servers disagree on term: ${[...terms].join(',')}`);
  return [...terms][0]!;
}

function checkNoLeader(sim: Sim): void {
  for (const id of sim.leaders())
    assert.ok(!sim.connected(id), `seed ${sim.seed}: ${id} is a connected leader`);
}

void describe('MIT 6.5840 3A: election', () => {
  void test('InitialElection: a leader is elected and terms stay put without failures', () => {
    const sim = new Sim({ seed: 301, voters: 3 });
    sim.checkOneLeader();
    sim.ticks(1);
    const term1 = checkTerms(sim);
    assert.ok(term1 >= 1);
    sim.ticks(2 * ET);
    assert.equal(checkTerms(sim), term1, 'term changed with no failures');
    sim.checkOneLeader();
  });

  void test('ReElection: a new leader after the leader leaves; none without a quorum', () => {
    const sim = new Sim({ seed: 302, voters: 3 });
    const leader1 = sim.checkOneLeader();
    sim.disconnect(leader1);
    sim.checkOneLeader();
    sim.connect(leader1);
    const leader2 = sim.checkOneLeader();
    sim.disconnect(leader2);
    sim.disconnect(after(sim, leader2, 1));
    sim.ticks(2 * ET);
    checkNoLeader(sim);
    sim.connect(after(sim, leader2, 1));
    sim.checkOneLeader();
    sim.connect(leader2);
    sim.checkOneLeader();
  });

  void test('ManyElections: 7 servers, 3 cut at random, 10 times', () => {
    const sim = new Sim({ seed: 303, voters: 7 });
    sim.checkOneLeader();
    for (let i = 0; i < 10; i++) {
      const ids = sim.ids();
      const cut = [0, 1, 2].map(() => ids[Math.floor(sim.rng() * ids.length)]!);
      for (const id of cut) sim.disconnect(id);
      sim.checkOneLeader();
      for (const id of cut) sim.connect(id);
    }
    sim.checkOneLeader();
  });
});

void describe('MIT 6.5840 3B: agreement', () => {
  void test('BasicAgree: commands agree in order on every server', () => {
    const sim = new Sim({ seed: 311, voters: 3 });
    sim.checkOneLeader();
    let last = 0;
    for (let i = 0; i < 3; i++) {
      const index = sim.one(3, false);
      assert.ok(index > last, `index ${index} after ${last}`);
      last = index;
    }
    sim.checkAllApplied();
  });

  void test('RPCBytes: each command goes to each peer about once', () => {
    const sim = new Sim({ seed: 312, voters: 3 });
    sim.checkOneLeader();
    sim.one(3, false);
    const before = sim.entryBytesSent;
    let total = 0;
    for (let i = 0; i < 10; i++) {
      sim.one(3, false, 100, 5000);
      total += 5000;
    }
    const sent = sim.entryBytesSent - before;
    assert.ok(
      sent <= 2 * (total + 10 * 20) + 50_000,
      `${sent} bytes of entries for ${total} bytes of commands`,
    );
  });

  void test('FollowerFailure: progress without one follower, none without a quorum', () => {
    const sim = new Sim({ seed: 313, voters: 3 });
    sim.one(3);
    const leader1 = sim.checkOneLeader();
    sim.disconnect(after(sim, leader1, 1));
    sim.one(2);
    sim.ticks(ET);
    sim.one(2);
    const leader2 = sim.checkOneLeader();
    sim.disconnect(after(sim, leader2, 1));
    sim.disconnect(after(sim, leader2, 2));
    const p = sim.propose(leader2);
    assert.ok(p !== null, 'leader refused a command');
    sim.ticks(2 * ET);
    assert.equal(sim.nApplied(p.cmd).count, 0, 'committed without a majority');
  });

  void test('LeaderFailure: a new leader takes over; nothing commits without a quorum', () => {
    const sim = new Sim({ seed: 314, voters: 3 });
    sim.one(3);
    const leader1 = sim.checkOneLeader();
    sim.disconnect(leader1);
    sim.one(2);
    sim.ticks(ET);
    sim.one(2);
    const leader2 = sim.checkOneLeader();
    sim.disconnect(leader2);
    const cmds = sim
      .ids()
      .map((id) => sim.propose(id))
      .filter((p) => p !== null);
    sim.ticks(2 * ET);
    for (const p of cmds) assert.equal(sim.nApplied(p.cmd).count, 0, `${p.cmd} committed without a quorum`);
  });

  void test('FailAgree: a follower that missed entries catches up on rejoin', () => {
    const sim = new Sim({ seed: 315, voters: 3 });
    sim.one(3);
    const leader = sim.checkOneLeader();
    sim.disconnect(after(sim, leader, 1));
    for (let i = 0; i < 4; i++) sim.one(2);
    sim.ticks(ET);
    sim.one(2);
    sim.connect(after(sim, leader, 1));
    sim.one(3);
    sim.ticks(ET);
    sim.one(3);
    sim.checkAllApplied();
  });

  void test('FailNoAgree: no agreement with 3 of 5 gone, then recovery', () => {
    const sim = new Sim({ seed: 316, voters: 5 });
    sim.one(5);
    const leader = sim.checkOneLeader();
    for (const i of [1, 2, 3]) sim.disconnect(after(sim, leader, i));
    const p = sim.propose(leader);
    assert.ok(p !== null);
    sim.ticks(2 * ET);
    assert.equal(sim.nApplied(p.cmd).count, 0, 'committed without a majority');
    for (const i of [1, 2, 3]) sim.connect(after(sim, leader, i));
    const leader2 = sim.checkOneLeader();
    assert.ok(sim.propose(leader2) !== null);
    sim.one(5);
    sim.checkAllApplied();
  });

  void test('ConcurrentStarts: commands started together all commit, in one term', () => {
    const sim = new Sim({ seed: 317, voters: 3 });
    const leader = sim.checkOneLeader();
    const term = sim.raft(leader).term;
    const ps = Array.from({ length: 5 }, () => sim.propose(leader));
    assert.ok(ps.every((p) => p !== null && p.term === term));
    assert.ok(sim.until(() => ps.every((p) => sim.nApplied(p!.cmd).count === 3), 2 * ET));
    // They went out together: one append per follower carries all five.
    sim.checkAllApplied();
  });

  void test('Rejoin: a partitioned leader rejoins and its stale entries are replaced', () => {
    const sim = new Sim({ seed: 318, voters: 3 });
    sim.one(3);
    const leader1 = sim.checkOneLeader();
    sim.disconnect(leader1);
    const stale = [sim.propose(leader1), sim.propose(leader1), sim.propose(leader1)];
    sim.one(2);
    const leader2 = sim.checkOneLeader();
    sim.disconnect(leader2);
    sim.connect(leader1);
    sim.one(2);
    sim.connect(leader2);
    sim.one(3);
    for (const p of stale) assert.equal(sim.nApplied(p!.cmd).count, 0, 'a stale leader entry was applied');
    sim.checkAllApplied();
  });

  void test('Backup: leaders back up quickly over long divergent logs', () => {
    const sim = new Sim({ seed: 319, voters: 5 });
    sim.one(5);
    const leader1 = sim.checkOneLeader();
    for (const i of [2, 3, 4]) sim.disconnect(after(sim, leader1, i));
    for (let i = 0; i < 50; i++) sim.propose(leader1);
    sim.ticks(ET / 2);
    sim.disconnect(leader1);
    sim.disconnect(after(sim, leader1, 1));
    for (const i of [2, 3, 4]) sim.connect(after(sim, leader1, i));
    for (let i = 0; i < 50; i++) sim.one(3);
    const leader2 = sim.checkOneLeader();
    const other = [2, 3, 4].map((i) => after(sim, leader1, i)).find((id) => id !== leader2)!;
    sim.disconnect(other);
    for (let i = 0; i < 50; i++) sim.propose(leader2);
    sim.ticks(ET / 2);
    for (const id of sim.ids()) sim.disconnect(id);
    sim.connect(leader1);
    sim.connect(after(sim, leader1, 1));
    sim.connect(other);
    for (let i = 0; i < 50; i++) sim.one(3);
    for (const id of sim.ids()) sim.connect(id);
    sim.one(5);
    sim.checkAllApplied();
  });

  void test('Count: message budgets for an election, agreements, and idleness', () => {
    const sim = new Sim({ seed: 320, voters: 3 });
    const requests = (): number =>
      ['app', 'heartbeat', 'vote', 'preVote', 'snap', 'timeoutNow'].reduce(
        (n, t) => n + (sim.sentByType.get(t) ?? 0),
        0,
      );
    const leader = sim.checkOneLeader();
    assert.ok(requests() < 30, `${requests()} requests to elect a leader`);
    const before = requests();
    const term = sim.raft(leader).term;
    const ps = Array.from({ length: 10 }, () => sim.propose(leader)!);
    assert.ok(sim.until(() => ps.every((p) => sim.nApplied(p.cmd).count === 3), ET));
    assert.equal(sim.raft(leader).term, term, 'the term changed');
    const used = requests() - before;
    assert.ok(used <= (10 + 1 + 3) * 3, `${used} requests for 10 agreements`);
    const idle0 = requests();
    sim.ticks(ET);
    const idle = requests() - idle0;
    assert.ok(idle <= 3 * 20, `${idle} requests in one idle second`);
  });
});

void describe('MIT 6.5840 3C: persistence', () => {
  void test('Persist1: state survives crashes of all, of the leader, of a follower', () => {
    const sim = new Sim({ seed: 331, voters: 3 });
    sim.one(3);
    for (const id of sim.ids()) sim.crash(id);
    for (const id of sim.ids()) sim.restart(id);
    sim.one(3);
    const leader1 = sim.checkOneLeader();
    sim.crash(leader1);
    sim.restart(leader1);
    sim.one(3);
    const leader2 = sim.checkOneLeader();
    sim.disconnect(leader2);
    sim.one(2);
    sim.crash(leader2);
    sim.restart(leader2);
    sim.connect(leader2);
    sim.one(3);
    const i3 = after(sim, sim.checkOneLeader(), 1);
    sim.crash(i3);
    sim.one(2);
    sim.restart(i3);
    sim.one(3);
    sim.checkAllApplied();
  });

  void test('Persist2: repeated crashes of majorities', () => {
    const sim = new Sim({ seed: 332, voters: 5 });
    for (let iter = 0; iter < 5; iter++) {
      sim.one(5);
      const leader1 = sim.checkOneLeader();
      const [a, b, c, d] = [1, 2, 3, 4].map((i) => after(sim, leader1, i)) as [
        string,
        string,
        string,
        string,
      ];
      sim.crash(a);
      sim.crash(b);
      sim.one(3);
      sim.crash(leader1);
      sim.crash(c);
      sim.crash(d);
      sim.restart(a);
      sim.restart(b);
      sim.ticks(ET);
      sim.restart(c);
      sim.one(3);
      sim.restart(d);
      sim.restart(leader1);
    }
    sim.one(5);
    sim.checkAllApplied();
  });

  void test('Persist3: a crashed and partitioned pair recovers', () => {
    const sim = new Sim({ seed: 333, voters: 3 });
    sim.one(3);
    const leader = sim.checkOneLeader();
    sim.disconnect(after(sim, leader, 2));
    sim.one(2);
    sim.crash(leader);
    sim.crash(after(sim, leader, 1));
    sim.connect(after(sim, leader, 2));
    sim.restart(leader);
    sim.one(2);
    sim.restart(after(sim, leader, 1));
    sim.one(3);
    sim.checkAllApplied();
  });

  for (const [name, seed, unreliable] of [
    ['Figure8', 341, false],
    ['Figure8Unreliable', 342, true],
  ] as const) {
    void test(`${name}: random leader crashes never lose a committed entry`, () => {
      const sim = new Sim({ seed, voters: 5 });
      if (unreliable) sim.faults = { ...UNRELIABLE, drop: 0.05, maxDelay: 10, longDelay: 0.05 };
      sim.one(5);
      let up = 5;
      for (let iter = 0; iter < 300; iter++) {
        for (const id of sim.leaders()) if (sim.connected(id)) sim.propose(id);
        const long = sim.rng() < 0.1;
        sim.ticks(long ? Math.floor(sim.rng() * 5) : 0);
        for (let r = Math.floor(sim.rng() * 4); r > 0; r--) sim.step();
        const leader = sim.leaders().find((id) => sim.connected(id));
        if (leader !== undefined && sim.rng() < 0.5) {
          if (unreliable) sim.disconnect(leader);
          else sim.crash(leader);
          up--;
        }
        if (up < 3) {
          const down = sim.ids().filter((id) => (unreliable ? !sim.connected(id) : !sim.alive(id)));
          const id = down[Math.floor(sim.rng() * down.length)]!;
          if (unreliable) sim.connect(id);
          else sim.restart(id);
          up++;
        }
      }
      sim.recoverAll();
      sim.one(5, true, 300);
      sim.checkAllApplied();
    });
  }

  void test('UnreliableAgree: agreement over a lossy, reordering network', () => {
    const sim = new Sim({ seed: 343, voters: 5 });
    sim.faults = { ...UNRELIABLE };
    for (let i = 0; i < 50; i++) sim.one(1, true, 200);
    sim.faults = { ...RELIABLE };
    sim.one(5);
    sim.checkAllApplied();
  });

  for (const [name, seed, unreliable] of [
    ['ReliableChurn', 351, false],
    ['UnreliableChurn', 352, true],
  ] as const) {
    void test(`${name}: clients keep proposing while servers crash, restart and move`, () => {
      const sim = new Sim({ seed, voters: 5 });
      if (unreliable) sim.faults = { ...UNRELIABLE };
      for (let iter = 0; iter < 20; iter++) {
        const pick = (): string => sim.ids()[Math.floor(sim.rng() * 5)]!;
        if (sim.rng() < 0.2) sim.disconnect(pick());
        if (sim.rng() < 0.5) {
          const id = pick();
          sim.restart(id);
          sim.connect(id);
        }
        if (sim.rng() < 0.2) sim.crash(pick());
        for (let t = 0; t < 7; t++) {
          for (const id of sim.leaders()) sim.propose(id);
          sim.ticks(1);
        }
      }
      sim.recoverAll();
      sim.one(5, true, 300);
      sim.checkAllApplied();
      const committed = [...sim.proposals.values()].filter(
        (p) => sim.inv.committedTerm.get(p.index) === p.term,
      );
      assert.ok(committed.length > 10, `only ${committed.length} proposals committed`);
    });
  }
});

void describe('MIT 6.5840 3D: snapshots', () => {
  void test('SnapshotBasic: logs are compacted as the state machine snapshots', () => {
    const sim = new Sim({ seed: 361, voters: 3, snapshotEvery: 10 });
    for (let i = 0; i < 40; i++) sim.one(3);
    for (const id of sim.ids()) assert.ok(sim.raft(id).log.firstIndex() > 20, `${id} log not compacted`);
    sim.checkAllApplied();
  });

  for (const [name, seed, mode, unreliable] of [
    ['SnapshotInstall', 362, 'disconnect', false],
    ['SnapshotInstallUnreliable', 363, 'disconnect', true],
    ['SnapshotInstallCrash', 364, 'crash', false],
    ['SnapshotInstallUnCrash', 365, 'crash', true],
  ] as const) {
    void test(`${name}: a follower that fell behind the log gets a snapshot`, () => {
      const sim = new Sim({ seed, voters: 3, snapshotEvery: 10 });
      if (unreliable) sim.faults = { ...UNRELIABLE };
      sim.one(3, true, 200);
      for (let iter = 0; iter < 6; iter++) {
        const victim = after(sim, sim.checkOneLeader(200), 1 + (iter % 2));
        if (mode === 'crash') sim.crash(victim);
        else sim.disconnect(victim);
        for (let i = 0; i < 12; i++) sim.one(2, true, 200);
        if (mode === 'crash') sim.restart(victim);
        else sim.connect(victim);
        sim.one(3, true, 300);
      }
      sim.faults = { ...RELIABLE };
      sim.one(3);
      assert.ok((sim.sentByType.get('snap') ?? 0) > 0, 'no snapshot was sent');
      sim.checkAllApplied();
    });
  }

  void test('SnapshotAllCrash: every server crashes and restarts from its snapshot', () => {
    const sim = new Sim({ seed: 366, voters: 3, snapshotEvery: 10 });
    for (let iter = 0; iter < 5; iter++) {
      for (let i = 0; i < 12; i++) sim.one(3);
      const index1 = sim.one(3);
      for (const id of sim.ids()) sim.crash(id);
      for (const id of sim.ids()) sim.restart(id);
      const index2 = sim.one(3);
      assert.ok(index2 > index1, `index went back from ${index1} to ${index2}`);
    }
    sim.checkAllApplied();
  });

  void test('SnapshotInit: a snapshot on disk is the starting point after restarts', () => {
    const sim = new Sim({ seed: 367, voters: 3, snapshotEvery: 10 });
    for (let i = 0; i < 25; i++) sim.one(3);
    for (const id of sim.ids()) sim.crash(id);
    for (const id of sim.ids()) sim.restart(id);
    for (const id of sim.ids())
      assert.ok(sim.raft(id).log.snapshot.meta.index >= 10, `${id} has no snapshot`);
    sim.one(3);
    for (const id of sim.ids()) sim.crash(id);
    for (const id of sim.ids()) sim.restart(id);
    sim.one(3);
    sim.checkAllApplied();
  });
});
