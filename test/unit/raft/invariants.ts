// The safety properties the simulation checks on every step, over what every node reports as it
// persists, commits, becomes leader and applies (Raft paper Figure 3 and §5.4, plus the store's
// promises). Each check fails the run through `fail`, which names the seed.
//
// - election safety: at most one leader per term;
// - log matching: two entries with the same index and term hold the same data and follow the same
//   previous term (so, by induction, the same log up to there);
// - committed entries never change, and no node applies an entry other than the committed one;
// - leader completeness: a new leader holds every entry known committed (above its snapshot);
// - state-machine safety: every node's state after index i is the same (a hash chain).

export class Invariants {
  readonly leaderOfTerm = new Map<number, string>();
  readonly committedTerm = new Map<number, number>();
  maxCommitted = 0;
  readonly elections: { term: number; leader: string; round: number }[] = [];
  private readonly entryAt = new Map<string, { data: string; prevTerm: number }>();
  private readonly chainAt = new Map<number, number>();
  private readonly fail: (message: string) => never;

  constructor(fail: (message: string) => never) {
    this.fail = fail;
  }

  /** Entries a node persisted; `prevTerm` is -1 where the node no longer knows it (compacted). */
  persisted(
    node: string,
    entries: readonly { index: number; term: number; data: string; prevTerm: number }[],
  ): void {
    for (const e of entries) {
      const key = `${e.index}:${e.term}`;
      const seen = this.entryAt.get(key);
      if (seen === undefined) this.entryAt.set(key, { data: e.data, prevTerm: e.prevTerm });
      else if (
        seen.data !== e.data ||
        (e.prevTerm !== -1 && seen.prevTerm !== -1 && seen.prevTerm !== e.prevTerm)
      ) {
        this.fail(`log matching: ${node} has a different entry at index ${e.index} term ${e.term}`);
      }
    }
  }

  /** A node's commit index moved from `from` to `to`; `termOf` reads its log. */
  committed(node: string, from: number, to: number, termOf: (i: number) => number | undefined): void {
    if (to < from) this.fail(`${node} commit went back from ${from} to ${to}`);
    for (let i = from + 1; i <= to; i++) {
      const t = termOf(i);
      if (t === undefined) continue;
      const known = this.committedTerm.get(i);
      if (known === undefined) this.committedTerm.set(i, t);
      else if (known !== t) this.fail(`committed entry ${i} changed term ${known} -> ${t} on ${node}`);
    }
    this.maxCommitted = Math.max(this.maxCommitted, to);
  }

  leaderElected(
    node: string,
    term: number,
    round: number,
    snapshotIndex: number,
    termOf: (i: number) => number | undefined,
  ): void {
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== node) this.fail(`two leaders in term ${term}: ${other}, ${node}`);
    this.leaderOfTerm.set(term, node);
    this.elections.push({ term, leader: node, round });
    for (const [i, t] of this.committedTerm) {
      if (i > snapshotIndex && termOf(i) !== t) {
        this.fail(`leader completeness: ${node} (term ${term}) lacks committed ${i}`);
      }
    }
  }

  /** A node applies the entry (index, term): it must be the committed one, if known. */
  applying(node: string, index: number, term: number): void {
    const committed = this.committedTerm.get(index);
    if (committed !== undefined && committed !== term) this.fail(`${node} applied uncommitted ${index}`);
  }

  /** A node's state machine after `index` hashes to `chain`: every node's must agree. */
  stateAt(node: string, index: number, chain: number): void {
    const known = this.chainAt.get(index);
    if (known === undefined) this.chainAt.set(index, chain);
    else if (known !== chain) this.fail(`state machines differ at ${index} (${node})`);
  }
}
