// A deterministic simulation of a Raft group for the core's tests: every node is a RaftNode over
// an in-memory "disk", joined by an in-memory network that can drop, duplicate, reorder, delay and
// partition; crashes lose whatever a node had not persisted, restarts rebuild from the disk. One
// seed decides everything (elections' jitter, the network, the faults), so a failure is replayed
// exactly by its seed.
//
// Invariants are checked as the run goes (a violation throws with the seed): election safety (one
// leader per term), log matching (same index and term: same data and same previous term), leader
// completeness (a new leader holds every entry known committed), committed entries never change,
// state-machine safety (every node's state after index i is the same), and exactly-once apply (no
// proposal applied twice in one state). Time: the ready loop runs in rounds; `roundsPerTick` rounds
// make one tick; a message takes one round or more.

import { prng } from '../../../bench/lib/stats.ts';
import { RaftNode, type RaftConfig } from '../../../src/store/raft/node.ts';
import type { Entry, HardState, Message, ReadState, Snapshot } from '../../../src/store/raft/types.ts';
import { dataSize } from '../../../src/store/raft/types.ts';

export interface SimOptions {
  readonly seed: number;
  /** Voter ids, or how many (named n1…nN). */
  readonly voters: number | readonly string[];
  /** Nodes that exist but are in no configuration yet (to be added), or learners from the start. */
  readonly extra?: readonly string[];
  readonly learners?: readonly string[];
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'random'>>;
  /** Take a snapshot and compact every this many applied entries (0: never). */
  readonly snapshotEvery?: number;
}

export interface NetworkFaults {
  drop: number;
  duplicate: number;
  /** Extra delay in rounds, uniform in [0, maxDelay]; reordering follows from it. */
  maxDelay: number;
  /** Chance of a long delay (up to 40 rounds) on top. */
  longDelay: number;
}

export const RELIABLE: NetworkFaults = { drop: 0, duplicate: 0, maxDelay: 0, longDelay: 0 };
export const UNRELIABLE: NetworkFaults = { drop: 0.1, duplicate: 0.05, maxDelay: 6, longDelay: 0.02 };

interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

interface StateMachine {
  index: number;
  chain: number;
  /** Proposal id -> index where it applied. */
  ids: Map<string, number>;
}

interface SimNode {
  readonly id: string;
  raft: RaftNode | null;
  sm: StateMachine | null;
  readonly disk: Disk;
  readonly random: () => number;
  lastSnapshotAt: number;
  commit: number;
}

interface InFlight {
  readonly at: number;
  readonly order: number;
  readonly m: Message;
}

export class SimViolation extends Error {}

function hash(prev: number, data: string): number {
  let h = prev ^ 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data.charCodeAt(i), 16777619);
  return (h ^ data.length) >>> 0;
}

function text(data: Entry['data']): string {
  return typeof data === 'string' ? data : new TextDecoder().decode(data);
}

export class Sim {
  readonly seed: number;
  readonly rng: () => number;
  readonly roundsPerTick = 4;
  readonly nodes = new Map<string, SimNode>();
  faults: NetworkFaults = { ...RELIABLE };
  round = 0;
  private inflight: InFlight[] = [];
  private order = 0;
  private readonly blocked = new Set<string>();
  private readonly options: SimOptions;
  private readonly founders: { voters: string[]; learners: string[] };
  // --- counters for the message-budget tests
  sent = 0;
  sentByType = new Map<string, number>();
  entryBytesSent = 0;
  entriesSent = 0;
  // --- what the invariant checks remember
  readonly leaderOfTerm = new Map<number, string>();
  readonly committedTerm = new Map<number, number>();
  maxCommitted = 0;
  private readonly entryAt = new Map<string, { data: string; prevTerm: number }>();
  private readonly chainAt = new Map<number, number>();
  /** Proposals the leader accepted: id -> where. */
  readonly proposals = new Map<string, { index: number; term: number }>();
  private nextProposal = 0;
  /** Reads asked: context -> the commit index known anywhere when asked. */
  private readonly reads = new Map<string, { node: string; floor: number; answer: number | null }>();
  readonly elections: { term: number; leader: string; round: number }[] = [];

  constructor(options: SimOptions) {
    this.options = options;
    this.seed = options.seed;
    this.rng = prng(options.seed);
    const voters =
      typeof options.voters === 'number'
        ? Array.from({ length: options.voters }, (_, i) => `n${i + 1}`)
        : [...options.voters];
    const learners = [...(options.learners ?? [])];
    this.founders = { voters, learners };
    for (const id of [...voters, ...learners, ...(options.extra ?? [])]) {
      const seed = Math.floor(this.rng() * 2 ** 32);
      const node: SimNode = {
        id,
        raft: null,
        sm: null,
        disk: { hardState: { term: 0, vote: '', commit: 0 }, snapshot: null, entries: [] },
        random: prng(seed),
        lastSnapshotAt: 0,
        commit: 0,
      };
      this.nodes.set(id, node);
      this.start(id);
    }
  }

  fail(message: string): never {
    throw new SimViolation(`seed ${this.seed}, round ${this.round}: ${message}`);
  }

  ids(): string[] {
    return [...this.nodes.keys()];
  }

  node(id: string): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: string): RaftNode {
    const r = this.node(id).raft;
    if (r === null) throw new Error(`node ${id} is down`);
    return r;
  }

  alive(id: string): boolean {
    return this.node(id).raft !== null;
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  private start(id: string): void {
    const n = this.node(id);
    const snap = n.disk.snapshot;
    n.sm =
      snap === null || snap.data === ''
        ? { index: snap?.meta.index ?? 0, chain: 0, ids: new Map() }
        : decodeSm(snap.data);
    n.lastSnapshotAt = n.sm.index;
    n.commit = n.disk.hardState.commit;
    n.raft = new RaftNode(
      { electionTick: 10, heartbeatTick: 1, ...this.options.raft, id, random: n.random },
      { hardState: n.disk.hardState, snapshot: snap, entries: n.disk.entries, applied: n.sm.index },
      // A brand-new group: every founding member starts from the same membership.
      this.founders.voters.includes(id) || this.founders.learners.includes(id) ? this.founders : undefined,
    );
  }

  /** The process dies: memory (unpersisted entries, state machine) is gone, the disk stays. */
  crash(id: string): void {
    const n = this.node(id);
    n.raft = null;
    n.sm = null;
  }

  restart(id: string): void {
    if (!this.alive(id)) this.start(id);
  }

  // ---- network -----------------------------------------------------------------------------------

  private linkKey(a: string, b: string): string {
    return `${a}>${b}`;
  }

  isBlocked(from: string, to: string): boolean {
    return (
      this.disconnected.has(from) || this.disconnected.has(to) || this.blocked.has(this.linkKey(from, to))
    );
  }

  /** MIT's disconnect: `id` neither sends nor receives until `connect`. */
  disconnect(id: string): void {
    this.disconnected.add(id);
  }

  connect(id: string): void {
    this.disconnected.delete(id);
  }

  private readonly disconnected = new Set<string>();
  /** Drops every message for which it returns false (to steer a scenario precisely). */
  filter: ((m: Message) => boolean) | null = null;

  /** Splits the nodes into groups that hear only each other. */
  partition(...groups: readonly (readonly string[])[]): void {
    this.heal();
    for (const a of this.nodes.keys()) {
      for (const b of this.nodes.keys()) {
        const ga = groups.findIndex((g) => g.includes(a));
        const gb = groups.findIndex((g) => g.includes(b));
        if (a !== b && ga !== gb) this.blocked.add(this.linkKey(a, b));
      }
    }
  }

  /** Removes partitions and cuts and reconnects every node. */
  heal(): void {
    this.blocked.clear();
    this.disconnected.clear();
  }

  /** Blocks one direction only (a -> b). */
  cut(from: string, to: string): void {
    this.blocked.add(this.linkKey(from, to));
  }

  connected(id: string): boolean {
    return !this.disconnected.has(id);
  }

  private send(m: Message): void {
    this.sent++;
    this.sentByType.set(m.type, (this.sentByType.get(m.type) ?? 0) + 1);
    if (m.type === 'app') {
      this.entriesSent += m.entries.length;
      for (const e of m.entries) this.entryBytesSent += dataSize(e.data);
    }
    if (this.isBlocked(m.from, m.to) || this.filter?.(m) === false || this.rng() < this.faults.drop) {
      this.lost(m);
      return;
    }
    const copies = this.rng() < this.faults.duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      let delay = 1 + Math.floor(this.rng() * (this.faults.maxDelay + 1));
      if (this.rng() < this.faults.longDelay) delay += Math.floor(this.rng() * 40);
      this.inflight.push({ at: this.round + delay, order: this.order++, m });
    }
  }

  /** What a real transport reports: an InstallSnapshot that did not arrive failed. */
  private lost(m: Message): void {
    // Reported at the next delivery: nothing may be called between a Ready and its advance.
    if (m.type === 'snap') this.snapshotReports.push({ m, ok: false });
  }

  private snapshotReports: { m: Message; ok: boolean }[] = [];
  /** False: a transport that reports only failed InstallSnapshots (the core must cope). */
  reportSnapshotSuccess = true;

  private deliver(): void {
    for (const { m, ok } of this.snapshotReports.splice(0)) this.node(m.from).raft?.reportSnapshot(m.to, ok);
    const due = this.inflight.filter((f) => f.at <= this.round);
    if (due.length === 0) return;
    this.inflight = this.inflight.filter((f) => f.at > this.round);
    // Same-round messages go in a random order when the network reorders, else in send order.
    if (this.faults.maxDelay > 0) {
      for (let i = due.length - 1; i > 0; i--) {
        const j = Math.floor(this.rng() * (i + 1));
        [due[i], due[j]] = [due[j]!, due[i]!];
      }
    } else due.sort((a, b) => a.at - b.at || a.order - b.order);
    for (const { m } of due) {
      const to = this.nodes.get(m.to);
      if (to === undefined || to.raft === null || this.isBlocked(m.from, m.to)) {
        this.lost(m);
        continue;
      }
      to.raft.step(m);
      // The InstallSnapshot call returns: its reply (or a timeout, when the reply is lost) tells
      // the leader's transport how it went, which it reports, as the store's transport will.
      if (m.type === 'snap' && this.reportSnapshotSuccess) {
        this.snapshotReports.push({ m, ok: this.rng() >= this.faults.drop });
      }
    }
  }

  // ---- the ready loop ----------------------------------------------------------------------------

  /**
   * Carries out one Ready as the store will. `crashAt` injects a crash inside it: 'start' (nothing
   * persisted), 'entries' (entries persisted, hard state not), 'sent' (a leader's messages left
   * while its own write was in flight).
   */
  private processReady(n: SimNode, crashAt?: 'start' | 'entries' | 'sent'): void {
    const raft = n.raft!;
    const rd = raft.ready();
    if (crashAt === 'start') return this.crash(n.id);
    if (crashAt === 'sent' && rd.mayReplicateBeforePersist) {
      for (const m of rd.messages) this.send(m);
      return this.crash(n.id);
    }
    if (rd.snapshot !== null) {
      n.disk.snapshot = rd.snapshot;
      n.disk.entries = [];
    }
    this.persistEntries(n, rd.entries);
    if (crashAt === 'entries') return this.crash(n.id);
    if (rd.hardState !== null) {
      n.disk.hardState = rd.hardState;
      this.recordCommit(n, rd.hardState.commit);
    }
    if (rd.softState?.role === 'leader') this.checkNewLeader(n);
    for (const m of rd.messages) this.send(m);
    if (rd.snapshot !== null) this.restoreSm(n, rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(n, e);
    for (const rs of rd.readStates) this.answerRead(n, rs);
    raft.advance();
    const every = this.options.snapshotEvery ?? 0;
    if (every > 0 && n.sm!.index - n.lastSnapshotAt >= every) this.takeSnapshot(n);
  }

  private persistEntries(n: SimNode, entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const raft = n.raft!;
    for (const e of entries) {
      const key = `${e.index}:${e.term}`;
      const prevTerm = raft.log.term(e.index - 1) ?? -1;
      const seen = this.entryAt.get(key);
      const data = `${e.type}:${text(e.data)}`;
      if (seen === undefined) this.entryAt.set(key, { data, prevTerm });
      else if (
        seen.data !== data ||
        (prevTerm !== -1 && seen.prevTerm !== -1 && seen.prevTerm !== prevTerm)
      ) {
        this.fail(`log matching: ${n.id} has a different entry at index ${e.index} term ${e.term}`);
      }
    }
    const kept = n.disk.entries.filter((e) => e.index < first.index);
    const last = kept[kept.length - 1];
    const base = last?.index ?? n.disk.snapshot?.meta.index ?? 0;
    if (first.index > base + 1) this.fail(`${n.id} persisted a gap: ${first.index} after ${base}`);
    n.disk.entries = [...kept, ...entries];
  }

  private recordCommit(n: SimNode, commit: number): void {
    const raft = n.raft!;
    if (commit < n.commit) this.fail(`${n.id} commit went back from ${n.commit} to ${commit}`);
    for (let i = n.commit + 1; i <= commit; i++) {
      const t = raft.log.term(i);
      if (t === undefined) continue;
      const known = this.committedTerm.get(i);
      if (known === undefined) this.committedTerm.set(i, t);
      else if (known !== t) this.fail(`committed entry ${i} changed term ${known} -> ${t} on ${n.id}`);
    }
    n.commit = commit;
    this.maxCommitted = Math.max(this.maxCommitted, commit);
  }

  private checkNewLeader(n: SimNode): void {
    const raft = n.raft!;
    const other = this.leaderOfTerm.get(raft.term);
    if (other !== undefined && other !== n.id)
      this.fail(`two leaders in term ${raft.term}: ${other}, ${n.id}`);
    this.leaderOfTerm.set(raft.term, n.id);
    this.elections.push({ term: raft.term, leader: n.id, round: this.round });
    for (const [i, t] of this.committedTerm) {
      if (i <= raft.log.snapshot.meta.index) continue;
      if (raft.log.term(i) !== t)
        this.fail(`leader completeness: ${n.id} (term ${raft.term}) lacks committed ${i}`);
    }
  }

  private restoreSm(n: SimNode, snap: Snapshot): void {
    n.sm = snap.data === '' ? { index: snap.meta.index, chain: 0, ids: new Map() } : decodeSm(snap.data);
    if (n.sm.index !== snap.meta.index)
      this.fail(`snapshot data at ${n.sm.index}, meta at ${snap.meta.index}`);
    this.checkChain(n);
    n.lastSnapshotAt = n.sm.index;
  }

  private applyEntry(n: SimNode, e: Entry): void {
    const sm = n.sm!;
    if (e.index !== sm.index + 1) this.fail(`${n.id} applied ${e.index} after ${sm.index}`);
    const committed = this.committedTerm.get(e.index);
    if (committed !== undefined && committed !== e.term) this.fail(`${n.id} applied uncommitted ${e.index}`);
    const data = text(e.data);
    if (e.type === 'normal' && data !== '') {
      if (sm.ids.has(data)) this.fail(`${n.id} applied ${data} twice (${sm.ids.get(data)} and ${e.index})`);
      sm.ids.set(data, e.index);
    }
    sm.chain = hash(sm.chain, `${e.type}:${data}`);
    sm.index = e.index;
    this.checkChain(n);
  }

  private checkChain(n: SimNode): void {
    const sm = n.sm!;
    const known = this.chainAt.get(sm.index);
    if (known === undefined) this.chainAt.set(sm.index, sm.chain);
    else if (known !== sm.chain) this.fail(`state machines differ at ${sm.index} (${n.id})`);
  }

  private takeSnapshot(n: SimNode): void {
    const sm = n.sm!;
    const snapshot = n.raft!.compact(encodeSm(sm), 2);
    n.disk.snapshot = snapshot;
    n.disk.entries = n.disk.entries.filter((e) => e.index > snapshot.meta.index);
    n.lastSnapshotAt = sm.index;
  }

  /** One round: ticks when due, deliveries, then every node's Ready until it has none. */
  step(crash?: { id: string; at: 'start' | 'entries' | 'sent' }): void {
    this.round++;
    if (this.round % this.roundsPerTick === 0) for (const n of this.nodes.values()) n.raft?.tick();
    this.deliver();
    for (const n of this.nodes.values()) {
      for (let guard = 0; n.raft?.hasReady() === true; guard++) {
        if (guard > 50) this.fail(`${n.id} never runs out of Ready`);
        this.processReady(n, crash?.id === n.id ? crash.at : undefined);
      }
    }
  }

  ticks(n: number): void {
    for (let i = 0; i < n * this.roundsPerTick; i++) this.step();
  }

  /** Runs until `check` holds or `maxTicks` pass; true when it held. */
  until(check: () => boolean, maxTicks: number): boolean {
    for (let i = 0; i < maxTicks * this.roundsPerTick; i++) {
      if (check()) return true;
      this.step();
    }
    return check();
  }

  // ---- clients -----------------------------------------------------------------------------------

  leaders(): string[] {
    return this.ids().filter((id) => this.node(id).raft?.role === 'leader');
  }

  /** MIT checkOneLeader: a connected leader of the newest term, waiting up to `maxTicks`. */
  checkOneLeader(maxTicks = 100): string {
    let found: string | undefined;
    this.until(() => {
      const byTerm = new Map<number, string[]>();
      for (const id of this.leaders()) {
        if (!this.connected(id)) continue;
        const t = this.raft(id).term;
        byTerm.set(t, [...(byTerm.get(t) ?? []), id]);
      }
      for (const [t, ls] of byTerm) if (ls.length > 1) this.fail(`term ${t} has leaders ${ls.join(',')}`);
      const newest = Math.max(...byTerm.keys());
      found = byTerm.get(newest)?.[0];
      return found !== undefined;
    }, maxTicks);
    if (found === undefined) this.fail('expected one leader, got none');
    return found;
  }

  /** Proposes a fresh, unique command on `id`; null when it is not leader (or refuses). */
  propose(id: string, padding = 0): { cmd: string; index: number; term: number } | null {
    const cmd = `p${this.nextProposal++}${padding > 0 ? ':' + 'x'.repeat(padding) : ''}`;
    const raft = this.node(id).raft;
    if (raft === null) return null;
    const res = raft.propose(cmd);
    if (!res.ok) return null;
    this.proposals.set(cmd, { index: res.index, term: res.term });
    return { cmd, index: res.index, term: res.term };
  }

  /** How many live nodes applied `cmd`, and where (they must agree). */
  nApplied(cmd: string): { count: number; index: number } {
    let count = 0;
    let index = -1;
    for (const n of this.nodes.values()) {
      const at = n.sm?.ids.get(cmd);
      if (at === undefined) continue;
      if (index !== -1 && at !== index) this.fail(`${cmd} applied at ${index} and ${at}`);
      index = at;
      count++;
    }
    return { count, index };
  }

  /**
   * MIT `one`: submit a command to whichever node is leader until it is applied on `expected`
   * nodes; with `retry`, a lost proposal is resubmitted (as a new command). Returns the index.
   */
  one(expected: number, retry = true, maxTicks = 100, padding = 0): number {
    const deadline = this.round + maxTicks * this.roundsPerTick;
    while (this.round < deadline) {
      const leader = this.leaders().find((id) => this.connected(id));
      const p = leader === undefined ? null : this.propose(leader, padding);
      if (p === null) {
        this.step();
        continue;
      }
      let applied = false;
      this.until(() => (applied = this.nApplied(p.cmd).count >= expected), 20);
      if (applied) return this.nApplied(p.cmd).index;
      if (!retry) this.fail(`one(${expected}) failed to reach agreement`);
    }
    this.fail(`one(${expected}) failed to reach agreement in ${maxTicks} ticks`);
  }

  appliedIndex(id: string): number {
    return this.node(id).sm?.index ?? -1;
  }

  read(id: string, context: string): boolean {
    const raft = this.node(id).raft;
    if (raft === null) return false;
    this.reads.set(context, { node: id, floor: this.maxCommitted, answer: null });
    return raft.readIndex(context) === null;
  }

  readAnswer(context: string): number | null {
    return this.reads.get(context)?.answer ?? null;
  }

  private answerRead(n: SimNode, rs: ReadState): void {
    const r = this.reads.get(rs.context);
    if (r === undefined) this.fail(`unexpected read state ${rs.context}`);
    // Linearizable: everything committed anywhere before the read was asked is at or below it.
    if (rs.index < r.floor) this.fail(`stale read ${rs.context}: index ${rs.index} < committed ${r.floor}`);
    r.answer = rs.index;
  }

  /** Final checks: every acknowledged (committed) proposal is applied once on every caught-up node. */
  checkAllApplied(): void {
    for (const [cmd, p] of this.proposals) {
      if (this.committedTerm.get(p.index) !== p.term) continue;
      for (const n of this.nodes.values()) {
        if (n.sm === null || n.sm.index < p.index) continue;
        if (n.sm.ids.get(cmd) !== p.index) this.fail(`${n.id} lost acknowledged ${cmd} at ${p.index}`);
      }
    }
  }
}

function encodeSm(sm: StateMachine): string {
  return JSON.stringify({ index: sm.index, chain: sm.chain, ids: [...sm.ids] });
}

function decodeSm(data: Entry['data']): StateMachine {
  const v = JSON.parse(text(data)) as { index: number; chain: number; ids: [string, number][] };
  return { index: v.index, chain: v.chain, ids: new Map(v.ids) };
}
