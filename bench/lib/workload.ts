// What a benchmark run asks for and what the servers acknowledged: unique tracks, the mixed-load
// choice of operation, and the ledger the final check compares every node against.

import type { Track } from '../../src/domain/index.ts';

export interface BenchRoom {
  readonly id: string;
  readonly hostToken: string;
  /** Member tokens (votes and adds are spread over them: limits are per member). */
  readonly tokens: readonly string[];
  /** Entries added before the load: vote targets that are never removed. */
  readonly seeded: readonly string[];
}

export type Op =
  | { readonly kind: 'vote'; readonly room: BenchRoom; readonly entryId: string }
  | { readonly kind: 'add'; readonly room: BenchRoom }
  | { readonly kind: 'read'; readonly room: BenchRoom }
  | { readonly kind: 'remove'; readonly room: BenchRoom; readonly entryId: string };

export class Workload {
  private readonly prefix: string;
  private counter = 0;
  /** The rooms `pick` chooses from now (the ledgers keep every room ever used). */
  private rooms: readonly BenchRoom[];
  /** room -> entryId -> trackId, for acknowledged adds. */
  readonly added = new Map<string, Map<string, string>>();
  /** room -> entry ids whose removal was sent (acknowledged or not). */
  readonly attempted = new Map<string, Set<string>>();
  /** room -> entry ids whose removal was acknowledged. */
  readonly removed = new Map<string, Set<string>>();
  /** Entries added during the load and not yet picked for removal: removal candidates. */
  private readonly removable = new Map<string, string[]>();

  constructor(prefix: string, rooms: readonly BenchRoom[]) {
    this.prefix = prefix;
    this.rooms = rooms;
  }

  /** Load goes to these rooms from now on. */
  useRooms(rooms: readonly BenchRoom[]): void {
    this.rooms = rooms;
  }

  newTrack(): Track {
    const n = this.counter++;
    return {
      trackId: `${this.prefix}-${n}`,
      title: `Bench track ${n}`,
      artist: `Load ${n % 97}`,
      album: 'Benchmarks',
      durationMs: 180_000 + (n % 120) * 1000,
    };
  }

  ackAdd(roomId: string, body: { entry: { entryId: string; track: { trackId: string } } | null }): void {
    if (!body.entry) return;
    let m = this.added.get(roomId);
    if (!m) this.added.set(roomId, (m = new Map<string, string>()));
    m.set(body.entry.entryId, body.entry.track.trackId);
    let r = this.removable.get(roomId);
    if (!r) this.removable.set(roomId, (r = []));
    r.push(body.entry.entryId);
  }

  /** A removal was sent: the entry may be gone even if no answer arrives (the run ended first). */
  attemptRemove(roomId: string, entryId: string): void {
    let s = this.attempted.get(roomId);
    if (!s) this.attempted.set(roomId, (s = new Set()));
    s.add(entryId);
  }

  ackRemove(roomId: string, entryId: string): void {
    let s = this.removed.get(roomId);
    if (!s) this.removed.set(roomId, (s = new Set()));
    s.add(entryId);
  }

  /** votes 60%, adds 20%, reads 15%, removes 5% (a remove with nothing to remove reads instead). */
  pick(random: () => number): Op {
    const room = this.rooms[Math.floor(random() * this.rooms.length)]!;
    const x = random();
    if (x < 0.6)
      return { kind: 'vote', room, entryId: room.seeded[Math.floor(random() * room.seeded.length)]! };
    if (x < 0.8) return { kind: 'add', room };
    if (x < 0.95) return { kind: 'read', room };
    const entryId = this.removable.get(room.id)?.shift();
    return entryId ? { kind: 'remove', room, entryId } : { kind: 'read', room };
  }

  get acknowledgedAdds(): number {
    let n = 0;
    for (const m of this.added.values()) n += m.size;
    return n;
  }
}
