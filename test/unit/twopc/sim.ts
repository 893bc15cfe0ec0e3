// A seeded, deterministic simulation of a 2PC cluster around TwoPcNode, following the store contract
// in src/store/twopc/node.ts: an in-memory network that drops, duplicates, delays (so reorders) and
// partitions; a disk per node where only fsynced records survive a crash; restarts from the durable
// records. One step is one tick on every live node. Everything random comes from one seed, so a
// failing run is replayed exactly by its seed.
//
// It checks as it runs (throwing at once): applies come in each room's position order; no
// transaction is both committed (a durable COMMIT, or applied) and aborted (a durable ABORT)
// anywhere; a write is answered at most once per submission. check() verifies the end state once everyone is up and healed (see below).

import assert from 'node:assert/strict';
import { prng } from '../../../bench/lib/stats.ts';
import { TwoPcNode } from '../../../src/store/twopc/node.ts';
import type {
  Checkpoint,
  ClientAnswer,
  Limits,
  LogRecord,
  Message,
  NodeId,
  Outcome,
  PersistRequest,
  RoomId,
  TxnId,
} from '../../../src/store/twopc/types.ts';

export interface SimOptions {
  readonly nodes: number;
  readonly seed: number;
  readonly limits?: Partial<Limits>;
  /** Chance a message is lost. */
  readonly drop?: number;
  /** Chance a message is delivered twice. */
  readonly duplicate?: number;
  /** Messages take 1..maxDelay steps. */
  readonly maxDelay?: number;
  /** Chance per step that a node fsyncs what it has written. */
  readonly fsync?: number;
  /** Chance a message is held up for 20..100 steps (a stale message arriving much later). */
  readonly straggle?: number;
  /** Chance per step that a node misses its tick (a slow or paused process: clocks drift). */
  readonly skipTick?: number;
}

export type Verdict = 'deliver' | 'drop' | 'hold';

interface Disk {
  /** The snapshot: the core's checkpoint and what the store had applied then (null: none). */
  snapshot: { checkpoint: Checkpoint; applied: Map<RoomId, { txn: TxnId; write: string }[]> } | null;
  /** Records after the snapshot (lsn = snapshot lsn + index + 1). */
  durable: LogRecord[];
  pending: PersistRequest[];
  /** The kinds of durable record per transaction, for the persist-before-send check. */
  kinds: Map<TxnId, Set<LogRecord['kind']>>;
}

export interface SimNode {
  readonly id: NodeId;
  node: TwoPcNode | null;
  readonly disk: Disk;
  /** What this node's store has applied: per room, the write id of each command in order. */
  applied: Map<RoomId, { txn: TxnId; write: string }[]>;
  /** When false the node fsyncs only when a test says so. */
  autoFsync: boolean;
}

function lastLsn(disk: Disk): number {
  return (disk.snapshot?.checkpoint.lsn ?? 0) + disk.durable.length;
}

function cloneApplied(
  applied: ReadonlyMap<RoomId, readonly { txn: TxnId; write: string }[]>,
): Map<RoomId, { txn: TxnId; write: string }[]> {
  return new Map([...applied].map(([room, list]) => [room, [...list]]));
}

const text = new TextEncoder();
const untext = new TextDecoder();

export class Sim {
  readonly rand: () => number;
  readonly ids: NodeId[];
  readonly nodes = new Map<NodeId, SimNode>();
  step = 0;
  /** Messages on the wire, with the step they arrive at. */
  private inFlight: { at: number; message: Message; sentAt: number }[] = [];
  /** Messages a test holds back (filter said 'hold'), in send order. */
  held: Message[] = [];
  filter: (m: Message) => Verdict = () => 'deliver';
  /** Called after a node handled a message (a fault injector may crash it right there). */
  afterDeliver: (m: Message) => void = () => {};
  /** Nodes whose clock stands still: they handle messages and fsync, but do not tick. */
  readonly paused = new Set<NodeId>();
  /** Every message any node sent, in order (for scenarios to look at). */
  readonly sent: Message[] = [];
  /** What each node sent in its latest flush (for fault injectors aiming at a moment). */
  readonly justSent = new Map<NodeId, readonly Message[]>();
  /** Called after a node fsynced (and so sent what waited for it). */
  afterFsync: (id: NodeId) => void = () => {};
  private readonly cuts = new Set<string>();
  drop: number;
  duplicate: number;
  readonly maxDelay: number;
  fsyncChance: number;
  straggle: number;
  skipTick: number;
  /** Every answer per write id, in order. */
  readonly answers = new Map<string, ClientAnswer[]>();
  /** Writes submitted on a node that crashed before answering them: their outcome is unknown. */
  readonly orphaned = new Set<string>();
  private readonly waiting = new Map<string, NodeId>();
  /** Every decision any node ever wrote or applied. */
  readonly decided = new Map<TxnId, Outcome>();
  private readonly limits: Partial<Limits>;
  private writeSeq = 0;

  constructor(o: SimOptions) {
    this.rand = prng(o.seed);
    this.ids = Array.from({ length: o.nodes }, (_, i) => `n${i}`);
    this.limits = o.limits ?? {};
    this.drop = o.drop ?? 0;
    this.duplicate = o.duplicate ?? 0;
    this.maxDelay = o.maxDelay ?? 2;
    this.fsyncChance = o.fsync ?? 1;
    this.straggle = o.straggle ?? 0;
    this.skipTick = o.skipTick ?? 0;
    for (const id of this.ids) {
      const disk: Disk = { snapshot: null, durable: [], pending: [], kinds: new Map() };
      this.nodes.set(id, { id, node: null, disk, applied: new Map(), autoFsync: true });
      this.start(id);
    }
  }

  get(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    assert.ok(n, `no node ${id}`);
    return n;
  }

  live(id: NodeId): TwoPcNode {
    const n = this.get(id).node;
    assert.ok(n, `${id} is down`);
    return n;
  }

  /** Submits a write to a node's coordinator; returns its id. */
  write(on: NodeId, room: RoomId, id = `w${++this.writeSeq}`): string {
    const node = this.live(on);
    this.waiting.set(id, on);
    node.write({ id, room, command: text.encode(id), jitterSeed: Math.floor(this.rand() * 2 ** 31) });
    this.flush(on);
    return id;
  }

  answer(id: string): ClientAnswer | undefined {
    return this.answers.get(id)?.at(-1);
  }

  /**
   * Stops a node: what it did not fsync is lost, and so is its store's memory. With `whileSending`,
   * each message it sent during this step is lost with even chance (it died mid-send).
   */
  crash(id: NodeId, whileSending = false): void {
    const n = this.get(id);
    if (whileSending) {
      this.inFlight = this.inFlight.filter(
        (f) => f.message.from !== id || f.sentAt !== this.step || this.rand() < 0.5,
      );
    }
    n.node = null;
    n.disk.pending = []; // what was not fsynced is lost
    n.applied = new Map(); // the store's rooms lived in memory
    for (const [w, on] of this.waiting) {
      if (on !== id) continue;
      this.waiting.delete(w);
      this.orphaned.add(w);
    }
  }

  start(id: NodeId): void {
    const n = this.get(id);
    assert.equal(n.node, null, `${id} is already up`);
    n.node = TwoPcNode.restart(
      { id, nodes: this.ids, limits: this.limits },
      n.disk.durable.map((r) => r),
      n.disk.snapshot?.checkpoint ?? null,
    );
    n.applied = cloneApplied(n.disk.snapshot?.applied ?? new Map());
    this.flush(id);
  }

  isUp(id: NodeId): boolean {
    return this.get(id).node !== null;
  }

  /** Cuts (or heals) the link between two nodes, both ways. */
  cut(a: NodeId, b: NodeId, on = true): void {
    const key = [a, b].sort().join('|');
    if (on) this.cuts.add(key);
    else this.cuts.delete(key);
  }

  healAll(): void {
    this.cuts.clear();
    this.drop = 0;
    this.duplicate = 0;
    this.filter = () => 'deliver';
    this.release(() => true);
    for (const id of this.ids) {
      this.get(id).autoFsync = true;
      if (!this.isUp(id)) this.start(id);
    }
    this.fsyncChance = 1;
    this.straggle = 0;
    this.skipTick = 0;
  }

  /** Puts held messages that match back on the wire. */
  release(match: (m: Message) => boolean): void {
    const keep: Message[] = [];
    for (const m of this.held) {
      if (match(m)) this.inFlight.push({ at: this.step + 1, message: m, sentAt: this.step });
      else keep.push(m);
    }
    this.held = keep;
  }

  fsync(id: NodeId): void {
    const n = this.get(id);
    if (n.node === null || n.disk.pending.length === 0) return;
    for (const p of n.disk.pending) {
      assert.equal(p.lsn, lastLsn(n.disk) + 1, `${id} persists in lsn order`);
      n.disk.durable.push(p.record);
      const txn = p.record.kind === 'CAUGHT_UP' ? p.record.entry.txn : p.record.txn;
      n.disk.kinds.set(txn, (n.disk.kinds.get(txn) ?? new Set()).add(p.record.kind));
      // A decision counts once durable: a COMMIT record lost in a crash was never sent.
      if (p.record.kind === 'COMMIT') this.decide(p.record.txn, 'commit');
      if (p.record.kind === 'ABORT') this.decide(p.record.txn, 'abort');
    }
    n.disk.pending = [];
    n.node.persisted(lastLsn(n.disk));
    this.flush(id);
    this.afterFsync(id);
  }

  /**
   * Compacts a node's log as the store does, when it may (every record durable, output taken):
   * the checkpoint and the applied rooms become the snapshot, the records before it are dropped.
   * Returns whether it did.
   */
  compact(id: NodeId): boolean {
    const n = this.get(id);
    if (n.node === null || n.disk.pending.length > 0 || !n.node.canCheckpoint()) return false;
    const checkpoint = n.node.checkpoint();
    assert.equal(checkpoint.lsn, lastLsn(n.disk), `${id} checkpoints at its last durable record`);
    n.disk.snapshot = { checkpoint, applied: cloneApplied(n.applied) };
    n.disk.durable = [];
    return true;
  }

  /** One step: deliver what arrives now, tick every live node, fsync by chance. */
  tick(): void {
    this.step++;
    const now = this.inFlight.filter((f) => f.at <= this.step);
    this.inFlight = this.inFlight.filter((f) => f.at > this.step);
    for (const f of now) this.deliver(f.message);
    for (const id of this.ids) {
      const n = this.get(id);
      if (n.node === null) continue;
      if (!this.paused.has(id) && this.rand() >= this.skipTick) {
        n.node.tick();
        this.flush(id);
      }
      if (n.autoFsync && this.rand() < this.fsyncChance) this.fsync(id);
    }
  }

  run(steps: number): void {
    for (let i = 0; i < steps; i++) this.tick();
  }

  /** Steps until `done` holds, at most `limit` steps; fails with `what` otherwise. */
  until(what: string, done: () => boolean, limit = 2_000): void {
    for (let i = 0; i < limit; i++) {
      if (done()) return;
      this.tick();
    }
    assert.ok(done(), `not within ${limit} steps: ${what}`);
  }

  /**
   * Nothing in progress anywhere: no prepared, no unACKed commit, no write waiting, and nothing on
   * the wire but pings. Pings never stop (each node pings a peer it has not heard from lately), carry
   * no protocol state and are answered only by a ping; once the skipped ticks of a run have spread the
   * nodes' ping phases, one may be in flight at every step (seed 975196 in CI).
   */
  quiet(): boolean {
    return (
      this.inFlight.every((f) => f.message.type === 'Ping') &&
      this.waiting.size === 0 &&
      this.ids.every((id) => {
        const s = this.get(id).node?.status();
        return (
          s !== undefined &&
          s.caughtUp &&
          s.preparedCount === 0 &&
          s.awaitingAcks === 0 &&
          s.writesInProgress === 0
        );
      })
    );
  }

  /** The write ids a node applied in a room, in order. */
  order(id: NodeId, room: RoomId): string[] {
    return (this.get(id).applied.get(room) ?? []).map((e) => e.write);
  }

  rooms(): RoomId[] {
    const all = new Set<RoomId>();
    for (const n of this.nodes.values()) for (const r of n.applied.keys()) all.add(r);
    return [...all].sort();
  }

  /**
   * The end-state properties, once everyone is up, healed and quiet: every node applied the same
   * commands in the same order in every room (atomicity and one order); each write at most once;
   * every acknowledged write exactly once at its answered position; no failed write anywhere;
   * nothing prepared, locked or waiting for ACKs.
   */
  check(): void {
    assert.ok(this.quiet(), 'the cluster is quiet');
    const [first, ...rest] = this.ids;
    for (const room of this.rooms()) {
      const reference = this.order(first!, room);
      for (const id of rest)
        assert.deepEqual(this.order(id, room), reference, `${id} and ${first} agree on ${room}`);
      assert.equal(new Set(reference).size, reference.length, `each write once in ${room}`);
    }
    for (const [write, answers] of this.answers) {
      const last = answers.at(-1)!;
      for (const id of this.ids) {
        const where = this.rooms().flatMap((room) =>
          this.order(id, room).flatMap((w, i) => (w === write ? [{ room, version: i + 1 }] : [])),
        );
        if (last.ok)
          assert.deepEqual(where, [{ room: last.room, version: last.version }], `${write} on ${id}`);
        else assert.deepEqual(where, [], `${write} failed (${last.error.code}) yet is on ${id}`);
      }
    }
    for (const id of this.ids) {
      const s = this.live(id).status();
      assert.equal(s.inDoubt.length, 0, `${id} has nothing in doubt`);
      assert.ok(s.caughtUp, `${id} caught up`);
    }
  }

  private deliver(m: Message): void {
    const to = this.get(m.to);
    if (to.node === null || this.cuts.has([m.from, m.to].sort().join('|'))) return;
    to.node.step(m);
    this.flush(m.to);
    this.afterDeliver(m);
  }

  /** Delivers a message now, as if it came off the wire. */
  inject(m: Message): void {
    this.deliver(m);
  }

  /** Steps until every node has caught up from a peer (a fresh cluster does so on its first ticks). */
  ready(): void {
    this.until('every node caught up', () => this.ids.every((id) => this.live(id).status().caughtUp));
  }

  private send(m: Message): void {
    this.sent.push(m);
    const verdict = this.filter(m);
    if (verdict === 'hold') return void this.held.push(m);
    if (verdict === 'drop' || this.rand() < this.drop) return;
    const copies = this.rand() < this.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const late = this.rand() < this.straggle ? 20 + Math.floor(this.rand() * 80) : 0;
      const at = this.step + 1 + late + Math.floor(this.rand() * this.maxDelay);
      this.inFlight.push({ at, message: m, sentAt: this.step });
    }
  }

  /** Takes a node's output and acts on it as the store would (node.ts, the contract). */
  private flush(id: NodeId): void {
    const n = this.get(id);
    if (n.node === null) return;
    const out = n.node.takeOutput();
    n.disk.pending.push(...out.persist);
    for (const m of out.messages) {
      this.checkDurableBefore(n, m);
      this.send(m);
    }
    this.justSent.set(id, out.messages);
    for (const e of out.apply) {
      const list = n.applied.get(e.room) ?? [];
      assert.equal(e.version, list.length + 1, `${id} applies ${e.room} in order`);
      list.push({ txn: e.txn, write: untext.decode(e.command) });
      n.applied.set(e.room, list);
      this.decide(e.txn, 'commit');
    }
    for (const a of out.answers) {
      assert.equal(this.waiting.get(a.id), id, `${a.id} answered once, by the node it was sent to`);
      this.waiting.delete(a.id);
      this.answers.set(a.id, [...(this.answers.get(a.id) ?? []), a]);
    }
  }

  /**
   * Persist before send (R*, presumed abort): a YES vote leaves only after the voter's PREPARED is
   * durable; a COMMIT, a "commit" answer or an ACK only after the sender's COMMIT (or the entry it
   * caught up) is durable.
   */
  private checkDurableBefore(n: SimNode, m: Message): void {
    const kinds = (txn: TxnId) => n.disk.kinds.get(txn) ?? new Set();
    const committed = (txn: TxnId) => kinds(txn).has('COMMIT') || kinds(txn).has('CAUGHT_UP');
    if (m.type === 'Vote' && m.yes) {
      assert.ok(
        kinds(m.txn).has('PREPARED') || committed(m.txn),
        `${n.id} voted YES on ${m.txn} before PREPARED was durable`,
      );
    }
    if ((m.type === 'GlobalDecision' || m.type === 'DecisionReply') && m.outcome === 'commit') {
      assert.ok(committed(m.txn), `${n.id} sent commit of ${m.txn} before its COMMIT was durable`);
    }
    if (m.type === 'Ack') assert.ok(committed(m.txn), `${n.id} ACKed ${m.txn} before its COMMIT was durable`);
  }

  private decide(txn: TxnId, outcome: Outcome): void {
    const before = this.decided.get(txn);
    assert.ok(before === undefined || before === outcome, `${txn} was ${before}, now ${outcome}`);
    this.decided.set(txn, outcome);
  }
}
