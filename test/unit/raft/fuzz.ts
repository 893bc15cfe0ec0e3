// One random fuzz run of the Raft core (see fuzz.test.ts): a seed builds a 3- or 5-node group
// (sometimes with a learner, snapshots, a lossy network) and runs random faults (crashes, crashes in
// the middle of a Ready, restarts, partitions, one-way cuts), proposals, linearizable reads, leader
// transfers and membership changes, with the simulation's invariants checked on every step. It ends
// by healing everything and requiring that the group agrees again and that every acknowledged
// proposal is applied exactly once everywhere.

import { RELIABLE, Sim, UNRELIABLE } from './sim.ts';

export function fuzzOne(seed: number): Sim {
  const pick = <T>(sim: Sim, xs: readonly T[]): T => xs[Math.floor(sim.rng() * xs.length)]!;
  const probe = new Sim({ seed, voters: 1 });
  const size = probe.rng() < 0.5 ? 3 : 5;
  const withLearner = probe.rng() < 0.3;
  const snapshots = probe.rng() < 0.5;
  const lossy = probe.rng() < 0.5;
  const sim = new Sim({
    seed,
    voters: size,
    learners: withLearner ? ['l1'] : [],
    extra: ['x1'],
    snapshotEvery: snapshots ? 5 + Math.floor(probe.rng() * 20) : 0,
    raft: { preVote: probe.rng() < 0.8, checkQuorum: probe.rng() < 0.8, maxSizePerMsg: 256 },
  });
  if (lossy) sim.faults = { ...UNRELIABLE };
  let reads = 0;
  const steps = 300 + Math.floor(sim.rng() * 400);
  for (let s = 0; s < steps; s++) {
    const r = sim.rng();
    const id = pick(sim, sim.ids());
    if (r < 0.3) {
      for (const l of sim.leaders()) if (sim.rng() < 0.7) sim.propose(l);
    } else if (r < 0.33) sim.crash(id);
    else if (r < 0.38) sim.restart(id);
    else if (r < 0.4) sim.partition(sim.ids().filter(() => sim.rng() < 0.5));
    else if (r < 0.41) sim.cut(id, pick(sim, sim.ids()));
    else if (r < 0.45) sim.heal();
    else if (r < 0.47) sim.read(id, `r${reads++}`);
    else if (r < 0.48) {
      const l = sim.leaders()[0];
      if (l !== undefined) sim.raft(l).transferLeadership(pick(sim, sim.ids()));
    } else if (r < 0.49) {
      const l = sim.leaders()[0];
      const type = pick(sim, ['addVoter', 'addLearner', 'removeNode'] as const);
      // Never shrink below three voters: a two-voter group can wedge on removal (etcd README).
      if (l !== undefined && (type !== 'removeNode' || sim.raft(l).tracker.voters.size > 3)) {
        sim.raft(l).proposeConfChange({ type, node: pick(sim, sim.ids()) });
      }
    } else if (r < 0.5 && sim.alive(id)) {
      sim.step({ id, at: pick(sim, ['start', 'entries', 'sent'] as const) });
      continue;
    }
    sim.step();
  }
  sim.faults = { ...RELIABLE };
  sim.heal();
  for (const id of sim.ids()) sim.restart(id);
  // A majority agrees on a new command, then every member of the final membership catches up.
  const leader = sim.checkOneLeader(300);
  const index = sim.one(sim.raft(leader).tracker.quorum(), true, 300);
  const caughtUp = (): boolean => {
    const l = sim.leaders()[0];
    return (
      l !== undefined &&
      sim
        .raft(l)
        .tracker.members()
        .every((id) => sim.appliedIndex(id) >= index)
    );
  };
  if (!sim.until(caughtUp, 300)) sim.fail(`members did not catch up to ${index}`);
  sim.checkAllApplied();
  return sim;
}
