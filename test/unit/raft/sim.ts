// A deterministic simulation of a Raft group for the core's tests: every node is a RaftNode over
// an in-memory "disk", joined by an in-memory network that can drop, duplicate, reorder, delay and
// partition; crashes lose whatever a node had not persisted, restarts rebuild from the disk. One
// seed decides everything (elections' jitter, the network, the faults), so a failure is replayed
// exactly by its seed.
//
// Invariants (invariants.ts) are checked as the run goes, a violation throwing with the seed:
// election safety, log matching, leader completeness, committed entries never change, state-machine
// safety; here, exactly-once apply (no proposal applied twice in one state) and linearizable reads.
// Time: the ready loop runs in rounds; `roundsPerTick` rounds make one tick; a message takes one
// round or more.

import { prng } from '../../../bench/lib/stats.ts';
import { RaftNode, type RaftConfig } from '../../../src/store/raft/node.ts';
import type { Entry, HardState, Message, ReadState, Snapshot } from '../../../src/store/raft/types.ts';
import { dataSize } from '../../../src/store/raft/types.ts';
import { Invariants } from './invariants.ts';
import { RELIABLE, SimNetwork, type NetworkFaults } from './network.ts';

export { RELIABLE, UNRELIABLE, type NetworkFaults } from './network.ts';

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

interface Disk {
  hardState: HardState;
  /** A hard state written without a sync (its commit alone moved): durable at the next sync. */
  unsyncedHard: HardState | null;
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
  /** A snapshot taken and being written beside the loop, made the log's base from round `at` on. */
  compacting: { snapshot: Snapshot; at: number } | null;
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
  private readonly compactRng: () => number;
  /** Whether a crash keeps a hard state written without a sync (own stream: seeds' other draws are unchanged). */
  private readonly syncRng: () => number;
  readonly roundsPerTick = 4;
  readonly nodes = new Map<string, SimNode>();
  round = 0;
  readonly net: SimNetwork;
  private readonly options: SimOptions;
  private readonly founders: { voters: string[]; learners: string[] };
  // --- counters for the message-budget tests
  sent = 0;
  sentByType = new Map<string, number>();
  entryBytesSent = 0;
  entriesSent = 0;
  // --- what the invariant checks remember
  readonly inv = new Invariants((message) => this.fail(message));
  /** Proposals the leader accepted: id -> where. */
  readonly proposals = new Map<string, { index: number; term: number }>();
  private nextProposal = 0;
  private tries = 0;
  /** Reads asked: context -> the commit index known anywhere when asked. */
  private readonly reads = new Map<string, { node: string; floor: number; answer: number | null }>();

  constructor(options: SimOptions) {
    this.options = options;
    this.seed = options.seed;
    this.rng = prng(options.seed);
    // A stream of its own, so that the other random choices of a seed stay as they were.
    this.compactRng = prng(options.seed ^ 0x5a17c0de);
    this.syncRng = prng(options.seed ^ 0x3c0a11ed);
    this.net = new SimNetwork(this.rng, () => this.nodes.keys());
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
        disk: {
          hardState: { term: 0, vote: '', commit: 0 },
          unsyncedHard: null,
          snapshot: null,
          entries: [],
        },
        random: prng(seed),
        lastSnapshotAt: 0,
        commit: 0,
        compacting: null,
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
    // A snapshot being written: lost with the process, or (half the time) already durable with the
    // log not yet moved past it, which the storage's start reads by the Raft rule.
    if (n.compacting !== null && this.compactRng() < 0.5) {
      const { snapshot } = n.compacting;
      if (snapshot.meta.index > (n.disk.snapshot?.meta.index ?? 0)) {
        const at = n.disk.entries.find((e) => e.index === snapshot.meta.index);
        n.disk.snapshot = snapshot;
        n.disk.entries =
          at?.term === snapshot.meta.term ? n.disk.entries.filter((e) => e.index > snapshot.meta.index) : [];
      }
    }
    n.compacting = null;
    // A hard state written but not synced (its commit alone had moved): on disk or lost, half and half.
    if (n.disk.unsyncedHard !== null && this.syncRng() < 0.5) n.disk.hardState = n.disk.unsyncedHard;
    n.disk.unsyncedHard = null;
    n.raft = null;
    n.sm = null;
  }

  restart(id: string): void {
    if (!this.alive(id)) this.start(id);
  }

  /** The end of a fault scenario: a reliable network, no partitions, every node running. */
  recoverAll(): void {
    this.faults = { ...RELIABLE };
    this.heal();
    for (const id of this.nodes.keys()) this.restart(id);
  }

  // ---- network (network.ts) ------------------------------------------------------------------

  get faults(): NetworkFaults {
    return this.net.faults;
  }

  set faults(faults: NetworkFaults) {
    this.net.faults = faults;
  }

  get filter(): ((m: Message) => boolean) | null {
    return this.net.filter;
  }

  set filter(filter: ((m: Message) => boolean) | null) {
    this.net.filter = filter;
  }

  isBlocked(from: string, to: string): boolean {
    return this.net.isBlocked(from, to);
  }

  disconnect(id: string): void {
    this.net.disconnect(id);
  }

  connect(id: string): void {
    this.net.connect(id);
  }

  connected(id: string): boolean {
    return this.net.connected(id);
  }

  partition(...groups: readonly (readonly string[])[]): void {
    this.net.partition(groups);
  }

  heal(): void {
    this.net.heal();
  }

  cut(from: string, to: string): void {
    this.net.cut(from, to);
  }

  private send(m: Message): void {
    this.sent++;
    this.sentByType.set(m.type, (this.sentByType.get(m.type) ?? 0) + 1);
    if (m.type === 'app') {
      this.entriesSent += m.entries.length;
      for (const e of m.entries) this.entryBytesSent += dataSize(e.data);
    }
    if (!this.net.send(m, this.round)) this.lost(m);
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
    for (const m of this.net.due(this.round)) {
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
      n.disk.unsyncedHard = rd.hardState;
      this.recordCommit(n, rd.hardState.commit);
    }
    // A sync (Ready.mustSync, or a snapshot's, which restarts the log with the hard state) makes
    // everything written so far durable, an earlier unsynced hard state included.
    if ((rd.mustSync || rd.snapshot !== null) && n.disk.unsyncedHard !== null) {
      n.disk.hardState = n.disk.unsyncedHard;
      n.disk.unsyncedHard = null;
    }
    if (rd.softState?.role === 'leader') this.checkNewLeader(n);
    for (const m of rd.messages) this.send(m);
    if (rd.snapshot !== null) this.restoreSm(n, rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(n, e);
    for (const rs of rd.readStates) this.answerRead(n, rs);
    raft.advance();
    const every = this.options.snapshotEvery ?? 0;
    if (every > 0 && n.compacting === null && n.sm!.index - n.lastSnapshotAt >= every) this.takeSnapshot(n);
  }

  private persistEntries(n: SimNode, entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const raft = n.raft!;
    this.inv.persisted(
      n.id,
      entries.map((e) => ({
        index: e.index,
        term: e.term,
        data: `${e.type}:${text(e.data)}`,
        prevTerm: raft.log.term(e.index - 1) ?? -1,
      })),
    );
    const kept = n.disk.entries.filter((e) => e.index < first.index);
    const last = kept[kept.length - 1];
    const base = last?.index ?? n.disk.snapshot?.meta.index ?? 0;
    if (first.index > base + 1) this.fail(`${n.id} persisted a gap: ${first.index} after ${base}`);
    n.disk.entries = [...kept, ...entries];
  }

  private recordCommit(n: SimNode, commit: number): void {
    const log = n.raft!.log;
    this.inv.committed(n.id, n.commit, commit, (i) => log.term(i));
    n.commit = commit;
  }

  private checkNewLeader(n: SimNode): void {
    const raft = n.raft!;
    this.inv.leaderElected(n.id, raft.term, this.round, raft.log.snapshot.meta.index, (i) =>
      raft.log.term(i),
    );
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
    this.inv.applying(n.id, e.index, e.term);
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
    this.inv.stateAt(n.id, n.sm!.index, n.sm!.chain);
  }

  /**
   * As the store does: the snapshot is taken right after advance, and made the log's base either at
   * once or (half the time) some rounds later, between two Readies, as if written beside the loop
   * meanwhile; by then the log may have moved on, or a newer snapshot come from the leader.
   */
  private takeSnapshot(n: SimNode): void {
    const sm = n.sm!;
    const snapshot: Snapshot = { meta: n.raft!.snapshotMeta(), data: encodeSm(sm) };
    n.lastSnapshotAt = sm.index;
    if (this.compactRng() < 0.5) this.compactTo(n, snapshot);
    else
      n.compacting = {
        snapshot,
        at: this.round + 1 + Math.floor(this.compactRng() * 8 * this.roundsPerTick),
      };
  }

  private compactTo(n: SimNode, snapshot: Snapshot): void {
    if (!n.raft!.compactTo(snapshot, 2)) return;
    n.disk.snapshot = snapshot;
    n.disk.entries = n.disk.entries.filter((e) => e.index > snapshot.meta.index);
  }

  /** One round: ticks when due, deliveries, then every node's Ready until it has none. */
  step(crash?: { id: string; at: 'start' | 'entries' | 'sent' }): void {
    this.round++;
    if (this.round % this.roundsPerTick === 0) for (const n of this.nodes.values()) n.raft?.tick();
    this.deliver();
    for (const n of this.nodes.values()) {
      if (n.compacting !== null && n.compacting.at <= this.round && n.raft !== null) {
        const { snapshot } = n.compacting;
        n.compacting = null;
        this.compactTo(n, snapshot);
      }
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

  /** The connected leader of the newest term, if any. */
  newestLeader(): string | undefined {
    const ls = this.leaders().filter((id) => this.connected(id));
    return ls.sort((a, b) => this.raft(b).term - this.raft(a).term)[0];
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
      // Try the leaders in turn, as the lab's `one` tries servers in turn: a stale leader (one cut
      // off or removed, with check-quorum off) may never step down.
      const leaders = this.leaders().filter((id) => this.connected(id));
      const leader = leaders[this.tries++ % Math.max(1, leaders.length)];
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
    this.reads.set(context, { node: id, floor: this.inv.maxCommitted, answer: null });
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
      if (this.inv.committedTerm.get(p.index) !== p.term) continue;
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
