// The command ids a room remembers, so that a retry gets the first answer (idempotency): the last
// RECENT_COMMANDS_KEPT successful commands, oldest first, as a persistent chunked window with a
// persistent index by command id beside it.
//
// The window is a list of immutable chunks of at most CHUNK commands. Remembering a command copies
// only the newest chunk, the oldest (which loses its first command once the window is full) and the
// list of chunks: O(CHUNK + KEPT / CHUNK), about 100 pointers instead of the 1,024 a flat array
// copies. Older states share every chunk in between with the current one. The index (a persistent
// hash map, hmap.ts: command id -> remembered command) gains the new id and loses the forgotten
// ones, a few short paths copied, so a lookup (every command makes one, to answer a retry) costs
// two or three hops whatever the window holds, not a scan of every chunk (issue 21: 33 chunks at
// 1,024 commands, 2.4 % of a REST write).
//
// Invariants: ids are unique within the window (a retry is answered, not remembered again); the
// index holds exactly the window's commands, by id; a command remembered at room version v sits in
// chunk floor((v - 1) / CHUNK) of the room's life, so the chunk layout follows from the commands
// and the version alone, and the index (hmap.ts) is a function of its contents: equal windows are
// equal objects however they were reached (a restored snapshot or a live room). JSON writes the
// plain array (toJSON), so snapshots keep their format; restore() rebuilds chunks and index
// (fromArray).

import { HMap } from './hmap.ts';
import type { RecentCommand } from './types.ts';

/** How many recent command ids a room remembers for idempotent retries. */
export const RECENT_COMMANDS_KEPT = 1024;
const CHUNK = 32;

type Chunk = readonly RecentCommand[];

export class RecentWindow implements Iterable<RecentCommand> {
  static readonly EMPTY = new RecentWindow([], 0, HMap.empty());

  /** Oldest first; no chunk is empty. */
  readonly chunks: readonly Chunk[];
  readonly length: number;
  /** Every remembered command by its id. */
  readonly index: HMap<RecentCommand>;

  private constructor(chunks: readonly Chunk[], length: number, index: HMap<RecentCommand>) {
    this.chunks = chunks;
    this.length = length;
    this.index = index;
  }

  /**
   * The window of these commands (oldest first), the newest remembered at room version `version`
   * (as in a snapshot: the window holds the last commands that changed the room, one per version).
   */
  static fromArray(commands: readonly RecentCommand[], version: number): RecentWindow {
    let window = RecentWindow.EMPTY;
    commands.forEach((command, i) => {
      window = window.remember(command, version - commands.length + 1 + i, Infinity);
    });
    return window;
  }

  find(commandId: string): RecentCommand | undefined {
    return this.index.get(commandId);
  }

  /** The window with `command` (remembered at room version `version`), forgetting beyond `kept`. */
  remember(command: RecentCommand, version: number, kept = RECENT_COMMANDS_KEPT): RecentWindow {
    const last = this.chunks.at(-1);
    const chunks =
      last === undefined || (version - 1) % CHUNK === 0 || last.length >= CHUNK
        ? [...this.chunks, [command]]
        : [...this.chunks.slice(0, -1), [...last, command]];
    let length = this.length + 1;
    let index = this.index.set(command.commandId, command);
    while (length > kept) {
      // The oldest goes; its chunk is copied without it, or dropped when it was the chunk's last.
      const oldest = chunks[0]!;
      const gone = oldest[0]!;
      // Only its own entry: should a window (an old snapshot's) hold an id twice, the newer stays.
      if (index.get(gone.commandId) === gone) index = index.delete(gone.commandId);
      if (oldest.length > 1) chunks[0] = oldest.slice(1);
      else chunks.shift();
      length -= 1;
    }
    return new RecentWindow(chunks, length, index);
  }

  at(i: number): RecentCommand | undefined {
    let k = i < 0 ? i + this.length : i;
    if (!Number.isInteger(k) || k < 0 || k >= this.length) return undefined;
    for (const chunk of this.chunks) {
      if (k < chunk.length) return chunk[k];
      k -= chunk.length;
    }
    return undefined;
  }

  *[Symbol.iterator](): Iterator<RecentCommand> {
    for (const chunk of this.chunks) yield* chunk;
  }

  map<T>(f: (command: RecentCommand, index: number) => T): T[] {
    return [...this].map((r, i) => f(r, i));
  }

  /** Snapshots and logs see the plain array, oldest first. */
  toJSON(): RecentCommand[] {
    return [...this];
  }

  [Symbol.for('nodejs.util.inspect.custom')](): RecentCommand[] {
    return [...this];
  }
}

export function findRecent(recent: RecentWindow, commandId: string): RecentCommand | undefined {
  return recent.find(commandId);
}

/** The window with `command` added (remembered at room version `version`), forgetting the oldest. */
export function remember(recent: RecentWindow, command: RecentCommand, version: number): RecentWindow {
  return recent.remember(command, version);
}
