// One random fuzz run of the Raft core (see fuzz.test.ts): a seed builds a 3-, 5- or 7-node group
// (sometimes with a learner, snapshots, a lossy network, tight flow-control limits) and runs random faults (crashes, crashes in
// the middle of a Ready, restarts, partitions, one-way cuts), proposals, linearizable reads, leader
// transfers and membership changes, with the simulation's invariants checked on every step. It ends
// by healing everything and requiring that the group agrees again and that every acknowledged
// proposal is applied exactly once everywhere. `version` keeps older generators, so a regression
// seed replays the scenario it failed on: 1 drew only 3 or 5 voters and default limits.

import { Sim, UNRELIABLE } from './sim.ts';

export const FUZZ_VERSION = 2;

export interface FuzzControl {
  /** Steps whose action runs (default all); a skipped step still draws its choices, then only steps. */
  readonly keep?: (step: number) => boolean;
  /** Filled with `step: action` for every action taken. */
  readonly trace?: string[];
}

export function fuzzOne(seed: number, version = FUZZ_VERSION, control: FuzzControl = {}): Sim {
  const pick = <T>(sim: Sim, xs: readonly T[]): T => xs[Math.floor(sim.rng() * xs.length)]!;
  const probe = new Sim({ seed, voters: 1 });
  const size =
    version === 1 ? (probe.rng() < 0.5 ? 3 : 5) : probe.rng() < 0.45 ? 3 : probe.rng() < 0.8 ? 5 : 7;
  const withLearner = probe.rng() < 0.3;
  const snapshots = probe.rng() < 0.5;
  const lossy = probe.rng() < 0.5;
  const sim = new Sim({
    seed,
    voters: size,
    learners: withLearner ? ['l1'] : [],
    extra: ['x1'],
    snapshotEvery: snapshots ? 5 + Math.floor(probe.rng() * 20) : 0,
    raft: {
      preVote: probe.rng() < 0.8,
      checkQuorum: probe.rng() < 0.8,
      maxSizePerMsg: 256,
      // Tight pipelines and budgets in some runs, to exercise pausing and refusals.
      ...(version === 1
        ? {}
        : {
            maxInflightMsgs: 1 + Math.floor(probe.rng() * 8),
            maxUncommittedSize: probe.rng() < 0.3 ? 200 : 0,
          }),
    },
  });
  if (lossy) sim.faults = { ...UNRELIABLE };
  let reads = 0;
  const steps = 300 + Math.floor(sim.rng() * 400);
  for (let s = 0; s < steps; s++) {
    const r = sim.rng();
    const id = pick(sim, sim.ids());
    const act = control.keep?.(s) ?? true;
    const note = (what: string): void => void control.trace?.push(`${s}: ${what}`);
    if (r < 0.3) {
      for (const l of sim.leaders()) if (sim.rng() < 0.7 && act) sim.propose(l);
    } else if (r < 0.33) {
      if (act) sim.crash(id);
      if (act) note(`crash ${id}`);
    } else if (r < 0.38) {
      if (act) sim.restart(id);
      if (act) note(`restart ${id}`);
    } else if (r < 0.4) {
      const group = sim.ids().filter(() => sim.rng() < 0.5);
      if (act) sim.partition(group);
      if (act) note(`partition ${group.join(',')} | rest`);
    } else if (r < 0.41) {
      const to = pick(sim, sim.ids());
      if (act) sim.cut(id, to);
      if (act) note(`cut ${id} -> ${to}`);
    } else if (r < 0.45) {
      if (act) sim.heal();
      if (act) note('heal');
    } else if (r < 0.47) {
      if (act) sim.read(id, `r${reads++}`);
      if (act) note(`read at ${id}`);
    } else if (r < 0.48) {
      const l = sim.leaders()[0];
      if (l !== undefined) {
        const to = pick(sim, sim.ids());
        if (act) sim.raft(l).transferLeadership(to);
        if (act) note(`transfer ${l} -> ${to}`);
      }
    } else if (r < 0.49) {
      const l = sim.leaders()[0];
      const type = pick(sim, ['addVoter', 'addLearner', 'removeNode'] as const);
      // Never shrink below three voters: a two-voter group can wedge on removal (etcd README).
      if (l !== undefined && (type !== 'removeNode' || sim.raft(l).tracker.voters.size > 3)) {
        const node = pick(sim, sim.ids());
        if (act) sim.raft(l).proposeConfChange({ type, node });
        if (act) note(`${type} ${node} at ${l}`);
      }
    } else if (r < 0.5 && sim.alive(id)) {
      const at = pick(sim, ['start', 'entries', 'sent'] as const);
      if (act) note(`crash ${id} inside a Ready (${at})`);
      sim.step(act ? { id, at } : undefined);
      continue;
    }
    sim.step();
  }
  sim.recoverAll();
  // A majority agrees on a new command, then every member of the final membership catches up.
  const leader = sim.checkOneLeader(300);
  const index = sim.one(sim.raft(leader).tracker.quorum(), true, 300);
  const caughtUp = (): boolean => {
    const l = sim.newestLeader();
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

/**
 * Delta debugging (Zeller's ddmin, simplified): the smallest subset of `items` found, within the
 * deadline, for which `fails` still holds. Assumes `fails(items)`.
 */
export function ddmin<T>(
  items: readonly T[],
  fails: (subset: readonly T[]) => boolean,
  deadline: number,
): T[] {
  let cur = [...items];
  let n = 2;
  while (cur.length >= 2 && Date.now() < deadline) {
    const chunk = Math.ceil(cur.length / n);
    let reduced = false;
    for (let i = 0; i < cur.length && !reduced; i += chunk) {
      const complement = [...cur.slice(0, i), ...cur.slice(i + chunk)];
      if (fails(complement)) {
        cur = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  return cur;
}

/**
 * A smaller counterexample for a failing seed: the fewest fault and request steps (proposals are
 * kept as drawn) that still make the run fail, as `step: action` lines. Best effort: skipping a
 * step changes the network's later draws, so the trace is a failing run of its own, not a subset
 * of the original's history.
 */
export function minimise(seed: number, version = FUZZ_VERSION, seconds = 60): string[] {
  const trace: string[] = [];
  const fails = (keep: (step: number) => boolean, t?: string[]): boolean => {
    try {
      fuzzOne(seed, version, t === undefined ? { keep } : { keep, trace: t });
      return false;
    } catch {
      return true;
    }
  };
  if (!fails(() => true, trace)) return [];
  const steps = trace.map((line) => Number(line.slice(0, line.indexOf(':'))));
  const kept = new Set(
    ddmin(steps, (subset) => fails((s) => subset.includes(s)), Date.now() + seconds * 1000),
  );
  const out: string[] = [];
  fails((s) => kept.has(s), out);
  return out;
}
