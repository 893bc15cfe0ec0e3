// One timer for all the live streams of a transport on this node (SSE, gRPC Watch), instead of one
// timer each: 10,000 idle subscribers would otherwise be 10,000 timers, each with its closure, all
// to write a few bytes every interval so that proxies do not cut idle streams.
//
// The streams are spread round-robin over `slots` groups and the timer fires `slots` times per
// interval, pinging one group each time: the pings of a crowd that joined at once do not all fall
// on the same instant (where they would hold up the next change's fan-out for as long as the
// whole crowd takes to write).
//
// A stream that was just sent a change does not need a ping: `idlePing` skips the ping of a stream
// that had a change since its previous turn, so a busy room's streams carry no heartbeats at all
// (and a ping never competes with a vote's fan-out for those streams), while an idle stream still
// hears something every interval and a stream never stays silent for two intervals.
//
// Invariants: every stream added is pinged once per interval for as long as it is in (the first
// ping comes within one interval of being added), never after it is deleted; a ping that throws
// does not keep the others from theirs; with no stream in, no timer runs.

export type Ping = () => void;

/** A stream's heartbeat: `ping` sends, unless `busy` (a change written) was called since its last turn. */
export interface IdlePing {
  readonly ping: Ping;
  busy(): void;
}

export function idlePing(send: () => void): IdlePing {
  let busy = false;
  return {
    ping: () => {
      if (busy) busy = false;
      else send();
    },
    busy: () => {
      busy = true;
    },
  };
}

export class Heartbeat {
  private readonly intervalMs: number;
  private readonly groups: Set<Ping>[];
  /** Which group a stream is in, so that deleting it is one lookup. */
  private readonly groupOf = new Map<Ping, Set<Ping>>();
  private next = 0;
  private due = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(intervalMs: number, slots = 16) {
    this.intervalMs = intervalMs;
    this.groups = Array.from({ length: Math.max(1, slots) }, () => new Set<Ping>());
  }

  /** Streams in. */
  get size(): number {
    return this.groupOf.size;
  }

  /** Whether the shared timer runs (only while some stream is in). */
  get running(): boolean {
    return this.timer !== null;
  }

  add(ping: Ping): void {
    if (this.groupOf.has(ping)) return;
    const group = this.groups[this.next]!;
    this.next = (this.next + 1) % this.groups.length;
    group.add(ping);
    this.groupOf.set(ping, group);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.intervalMs / this.groups.length);
      // A heartbeat never keeps the process alive on its own.
      this.timer.unref();
    }
  }

  delete(ping: Ping): void {
    const group = this.groupOf.get(ping);
    if (group === undefined) return;
    group.delete(ping);
    this.groupOf.delete(ping);
    if (this.groupOf.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Pings the group whose turn it is. */
  private tick(): void {
    const group = this.groups[this.due]!;
    this.due = (this.due + 1) % this.groups.length;
    // A ping that ends its stream deletes itself from the group meanwhile: a Set's iteration allows it.
    for (const ping of group) {
      try {
        ping();
      } catch {
        // One broken stream (its socket gone) must not keep the others from their heartbeat.
      }
    }
  }
}
