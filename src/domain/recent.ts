// The command ids a room remembers, so that a retry gets the first answer (idempotency): the last
// RECENT_COMMANDS_KEPT successful commands, oldest first, as a persistent chunked window.
//
// The window is a list of immutable chunks of at most CHUNK commands. Remembering a command copies
// only the newest chunk, the oldest (which loses its first command once the window is full) and the
// list of chunks: O(CHUNK + KEPT / CHUNK), about 100 pointers instead of the 1,024 a flat array
// copies. Older states share every chunk in between with the current one, so a state used again
// (the linearizability checker backtracks through many) needs no index rebuilt: each full chunk's
// index by command id is built once, on its first lookup, and is valid for ever because the chunk
// never changes; the two partial chunks at the ends are scanned (at most CHUNK each).
//
// Invariants: ids are unique within the window (a retry is answered, not remembered again); a
// command remembered at room version v sits in chunk floor((v - 1) / CHUNK) of the room's life, so
// the chunk layout follows from the commands and the version alone: equal windows are equal
// objects however they were reached (a restored snapshot or a live room). JSON writes the plain
// array (toJSON), so snapshots keep their format; restore() rebuilds the chunks (fromArray).

import type { RecentCommand } from './types.ts';

/** How many recent command ids a room remembers for idempotent retries. */
export const RECENT_COMMANDS_KEPT = 1024;
const CHUNK = 32;

type Chunk = readonly RecentCommand[];

/** Index by command id of a chunk, built on first lookup; a chunk never changes, so neither does it. */
const chunkIndexes = new WeakMap<Chunk, Map<string, number>>();

function indexOf(chunk: Chunk, commandId: string): number {
  let index = chunkIndexes.get(chunk);
  if (index === undefined) {
    // The newest chunk changes on every command (it is copied): a scan of at most CHUNK is cheaper.
    if (chunk.length < CHUNK) return chunk.findIndex((r) => r.commandId === commandId);
    index = new Map(chunk.map((r, i) => [r.commandId, i]));
    chunkIndexes.set(chunk, index);
  }
  return index.get(commandId) ?? -1;
}

export class RecentWindow implements Iterable<RecentCommand> {
  static readonly EMPTY = new RecentWindow([], 0);

  /** Oldest first; no chunk is empty. */
  readonly chunks: readonly Chunk[];
  readonly length: number;

  private constructor(chunks: readonly Chunk[], length: number) {
    this.chunks = chunks;
    this.length = length;
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
    for (let c = this.chunks.length - 1; c >= 0; c--) {
      const chunk = this.chunks[c]!;
      const i = indexOf(chunk, commandId);
      if (i >= 0) return chunk[i];
    }
    return undefined;
  }

  /** The window with `command` (remembered at room version `version`), forgetting beyond `kept`. */
  remember(command: RecentCommand, version: number, kept = RECENT_COMMANDS_KEPT): RecentWindow {
    const last = this.chunks.at(-1);
    const chunks =
      last === undefined || (version - 1) % CHUNK === 0 || last.length >= CHUNK
        ? [...this.chunks, [command]]
        : [...this.chunks.slice(0, -1), [...last, command]];
    let length = this.length + 1;
    while (length > kept) {
      // The oldest goes; its chunk is copied without it, or dropped when it was the chunk's last.
      const oldest = chunks[0]!;
      if (oldest.length > 1) chunks[0] = oldest.slice(1);
      else chunks.shift();
      length -= 1;
    }
    return new RecentWindow(chunks, length);
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
