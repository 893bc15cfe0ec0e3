// The simulation's network: messages in flight with a delivery round, and the faults a test sets
// (drop, duplicate, delay and so reorder, partitions, one-way cuts, MIT-style disconnected nodes,
// and a filter to steer a scenario precisely). Seeded by the simulation's PRNG; it never steps a
// node itself.

import type { Message } from '../../../src/store/raft/types.ts';

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

interface InFlight {
  readonly at: number;
  readonly order: number;
  readonly m: Message;
}

export class SimNetwork {
  faults: NetworkFaults = { ...RELIABLE };
  /** Drops every message for which it returns false. */
  filter: ((m: Message) => boolean) | null = null;
  private inflight: InFlight[] = [];
  private order = 0;
  private readonly blocked = new Set<string>();
  private readonly disconnected = new Set<string>();
  private readonly rng: () => number;
  private readonly ids: () => Iterable<string>;

  constructor(rng: () => number, ids: () => Iterable<string>) {
    this.rng = rng;
    this.ids = ids;
  }

  private static link(a: string, b: string): string {
    return `${a}>${b}`;
  }

  isBlocked(from: string, to: string): boolean {
    return (
      this.disconnected.has(from) || this.disconnected.has(to) || this.blocked.has(SimNetwork.link(from, to))
    );
  }

  /** MIT's disconnect: `id` neither sends nor receives until `connect`. */
  disconnect(id: string): void {
    this.disconnected.add(id);
  }

  connect(id: string): void {
    this.disconnected.delete(id);
  }

  connected(id: string): boolean {
    return !this.disconnected.has(id);
  }

  /** Splits the nodes into groups that hear only each other. */
  partition(groups: readonly (readonly string[])[]): void {
    this.heal();
    const ids = [...this.ids()];
    for (const a of ids) {
      for (const b of ids) {
        const ga = groups.findIndex((g) => g.includes(a));
        const gb = groups.findIndex((g) => g.includes(b));
        if (a !== b && ga !== gb) this.blocked.add(SimNetwork.link(a, b));
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
    this.blocked.add(SimNetwork.link(from, to));
  }

  /** Puts `m` in flight (once or twice); false when the network dropped it. */
  send(m: Message, round: number): boolean {
    if (this.isBlocked(m.from, m.to) || this.filter?.(m) === false || this.rng() < this.faults.drop)
      return false;
    const copies = this.rng() < this.faults.duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      let delay = 1 + Math.floor(this.rng() * (this.faults.maxDelay + 1));
      if (this.rng() < this.faults.longDelay) delay += Math.floor(this.rng() * 40);
      this.inflight.push({ at: round + delay, order: this.order++, m });
    }
    return true;
  }

  /** The messages due by `round`, taken out, in delivery order (random when the network reorders). */
  due(round: number): Message[] {
    const due = this.inflight.filter((f) => f.at <= round);
    if (due.length === 0) return [];
    this.inflight = this.inflight.filter((f) => f.at > round);
    if (this.faults.maxDelay > 0) {
      for (let i = due.length - 1; i > 0; i--) {
        const j = Math.floor(this.rng() * (i + 1));
        [due[i], due[j]] = [due[j]!, due[i]!];
      }
    } else due.sort((a, b) => a.at - b.at || a.order - b.order);
    return due.map((f) => f.m);
  }
}
