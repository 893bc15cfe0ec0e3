// The queue as a persistent ordered structure: a treap (a binary search tree that is also a heap on
// a priority) whose nodes are never changed once made. Inserting or removing an entry copies only
// the O(log n) nodes on its path and shares the rest with the queue it came from, so a room of
// 100,000 entries changes as cheaply as one of 100, and every older state stays intact.
//
// Invariants:
// - In-order, the entries are sorted by `compareEntries` (score descending, then seq ascending).
// - Each node's priority is a hash of its entry's seq (unique within a room), and no child has a
//   higher priority than its parent. Keys and priorities together fix the tree's shape, so equal
//   queues are equal trees however they were built: a deep comparison of two states compares their
//   queues' contents, and nothing depends on the order of past operations. The hash is a fixed
//   function (no randomness): every node builds the same tree, and its depth is O(log n) expected.
// - Each node holds its subtree's size, summed track durations and count of tracks of unknown
//   length (durationMs 0), so positions ("position N") and ETAs cost O(log n).
// - Each node keeps its entry's score, seq and priority beside it, so a descent compares numbers
//   held in the nodes it walks and reads no entry object (at 100,000 entries each read is a likely
//   cache miss).
// - Beside the tree, persistent hash maps (hmap.ts) index the entries by entry id and track id (both
//   unique within a queue: addTrack refuses a second one of either) and a persistent map (pmap.ts)
//   counts them per member, so lookups cost O(log n) for every state, old or new, nothing rebuilt.
// - JSON.stringify writes the queue as the plain sorted array it always was (toJSON), so snapshots
//   and logs keep their format; restore() turns the array back into a tree (Queue.fromSorted).

import { HMap } from './hmap.ts';
import { mix32, PMap } from './pmap.ts';
import { compareEntries, scoreOf } from './rank.ts';
import type { QueueEntry } from './types.ts';

export { compareEntries, scoreOf };

interface Node {
  readonly entry: QueueEntry;
  /** The entry's score, seq and priority, kept here so that a descent reads no entry. */
  readonly score: number;
  readonly seq: number;
  readonly priority: number;
  readonly left: Node | null;
  readonly right: Node | null;
  readonly size: number;
  /** Summed track durations of the subtree. */
  readonly durationMs: number;
  /** Tracks of unknown length (durationMs 0) in the subtree. */
  readonly unknown: number;
}

/** Where an entry sorts: its score and seq (what `compareEntries` reads), and its priority. */
interface Key {
  readonly score: number;
  readonly seq: number;
  readonly priority: number;
}

/** A 32-bit mix of the seq (murmur3's finaliser): consecutive seqs get unrelated priorities. */
function priority(seq: number): number {
  return mix32(seq);
}

function keyOf(entry: QueueEntry): Key {
  return { score: scoreOf(entry), seq: entry.seq, priority: priority(entry.seq) };
}

/** `compareEntries` of an entry with key `k` and the entry of node `n`. */
function compare(k: Key, n: Key): number {
  return n.score - k.score || k.seq - n.seq;
}

/** A total order on priorities (ties, which a 32-bit hash allows, go to the smaller seq). */
function above(a: Key, b: Key): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}

function make(entry: QueueEntry, k: Key, left: Node | null, right: Node | null): Node {
  return {
    entry,
    score: k.score,
    seq: k.seq,
    priority: k.priority,
    left,
    right,
    size: 1 + (left?.size ?? 0) + (right?.size ?? 0),
    durationMs: entry.track.durationMs + (left?.durationMs ?? 0) + (right?.durationMs ?? 0),
    unknown: (entry.track.durationMs === 0 ? 1 : 0) + (left?.unknown ?? 0) + (right?.unknown ?? 0),
  };
}

/** `n` with new children. */
function node(n: Node, left: Node | null, right: Node | null): Node {
  return make(n.entry, n, left, right);
}

/** The entries of `t` that sort before `key`, and the rest. */
function split(t: Node | null, key: Key): [Node | null, Node | null] {
  if (t === null) return [null, null];
  if (compare(key, t) > 0) {
    const [l, r] = split(t.right, key);
    return [node(t, t.left, l), r];
  }
  const [l, r] = split(t.left, key);
  return [l, node(t, r, t.right)];
}

/** Joins two trees, every entry of `a` sorting before every entry of `b`. */
function merge(a: Node | null, b: Node | null): Node | null {
  if (a === null) return b;
  if (b === null) return a;
  return above(a, b) ? node(a, a.left, merge(a.right, b)) : node(b, merge(a, b.left), b.right);
}

function insert(t: Node | null, entry: QueueEntry, key: Key): Node {
  if (t === null) return make(entry, key, null, null);
  if (above(key, t)) {
    const [l, r] = split(t, key);
    return make(entry, key, l, r);
  }
  return compare(key, t) < 0
    ? node(t, insert(t.left, entry, key), t.right)
    : node(t, t.left, insert(t.right, entry, key));
}

function remove(t: Node | null, entry: QueueEntry, key: Key): Node | null {
  if (t === null) throw new Error(`entry ${entry.entryId} is not where its order says`);
  const c = compare(key, t);
  if (c === 0) {
    if (t.entry.entryId !== entry.entryId)
      throw new Error(`entry ${entry.entryId} is not where its order says`);
    return merge(t.left, t.right);
  }
  return c < 0 ? node(t, remove(t.left, entry, key), t.right) : node(t, t.left, remove(t.right, entry, key));
}

/**
 * The tree with `before` replaced by `after` in the same node, when `after` still sorts between
 * the entries either side of it (so the order holds, and the priority, a function of the unchanged
 * seq, still fits the heap); null when it must move. One descent and one path copy instead of a
 * removal and an insertion (issue 21: most votes on a long queue of tied scores still move).
 */
function replaceInPlace(root: Node | null, before: QueueEntry, after: QueueEntry): Node | null {
  const key = keyOf(before);
  const path: Node[] = [];
  let lower: Node | null = null;
  let upper: Node | null = null;
  let t = root;
  while (t !== null) {
    const c = compare(key, t);
    if (c === 0) break;
    path.push(t);
    if (c < 0) {
      upper = t;
      t = t.left;
    } else {
      lower = t;
      t = t.right;
    }
  }
  if (t === null || t.entry.entryId !== before.entryId) {
    throw new Error(`entry ${before.entryId} is not where its order says`);
  }
  // The neighbours: the last of the left subtree, else the ancestor last turned right at, and
  // the first of the right subtree, else the ancestor last turned left at.
  let pred = t.left;
  if (pred !== null) while (pred.right !== null) pred = pred.right;
  let succ = t.right;
  if (succ !== null) while (succ.left !== null) succ = succ.left;
  pred ??= lower;
  succ ??= upper;
  const k = keyOf(after);
  if ((pred !== null && compare(k, pred) <= 0) || (succ !== null && compare(k, succ) >= 0)) return null;
  let n = make(after, k, t.left, t.right);
  for (let i = path.length - 1; i >= 0; i--) {
    const p = path[i]!;
    n = p.left === (i === path.length - 1 ? t : path[i + 1]!) ? node(p, n, p.right) : node(p, p.left, n);
  }
  return n;
}

interface Indexes {
  readonly byEntry: HMap<QueueEntry>;
  /** Track id -> entry id (not the entry: a vote then changes one index, not two). */
  readonly byTrack: HMap<string>;
  /** Entries waiting per member (addedBy). */
  readonly perMember: PMap<number>;
}

const NO_INDEXES: Indexes = { byEntry: HMap.empty(), byTrack: HMap.empty(), perMember: PMap.empty() };

function indexAdd(index: Indexes, entry: QueueEntry): Indexes {
  return {
    byEntry: index.byEntry.set(entry.entryId, entry),
    byTrack: index.byTrack.set(entry.track.trackId, entry.entryId),
    perMember: index.perMember.set(entry.addedBy, (index.perMember.get(entry.addedBy) ?? 0) + 1),
  };
}

function indexRemove(index: Indexes, entry: QueueEntry): Indexes {
  const left = (index.perMember.get(entry.addedBy) ?? 1) - 1;
  return {
    byEntry: index.byEntry.delete(entry.entryId),
    byTrack: index.byTrack.delete(entry.track.trackId),
    perMember: left > 0 ? index.perMember.set(entry.addedBy, left) : index.perMember.delete(entry.addedBy),
  };
}

export class Queue implements Iterable<QueueEntry> {
  static readonly EMPTY = new Queue(null, NO_INDEXES);

  /** The tree; null when empty. Enumerable, so deep equality of states compares the entries. */
  readonly root: Node | null;
  readonly index: Indexes;

  private constructor(root: Node | null, index: Indexes) {
    this.root = root;
    this.index = index;
  }

  /**
   * The queue of these entries, which must already be in queue order (as in a snapshot); built in
   * O(n) with a stack (a Cartesian tree), not by n insertions.
   */
  static fromSorted(entries: readonly QueueEntry[]): Queue {
    for (let i = 1; i < entries.length; i++) {
      if (compareEntries(entries[i - 1]!, entries[i]!) >= 0) {
        throw new Error(`queue entries are not in order at ${i} (${entries[i]!.entryId})`);
      }
    }
    const n = entries.length;
    const keys = entries.map(keyOf);
    const left = new Int32Array(n).fill(-1);
    const right = new Int32Array(n).fill(-1);
    const stack: number[] = [];
    for (let i = 0; i < n; i++) {
      let last = -1;
      while (stack.length > 0 && above(keys[i]!, keys[stack.at(-1)!]!)) last = stack.pop()!;
      left[i] = last;
      if (stack.length > 0) right[stack.at(-1)!] = i;
      stack.push(i);
    }
    const build = (i: number): Node | null =>
      i < 0 ? null : make(entries[i]!, keys[i]!, build(left[i]!), build(right[i]!));
    let index = NO_INDEXES;
    for (const entry of entries) index = indexAdd(index, entry);
    return n === 0 ? Queue.EMPTY : new Queue(build(stack[0]!), index);
  }

  /** Any entries, sorted here into queue order. */
  static of(entries: readonly QueueEntry[]): Queue {
    return Queue.fromSorted(entries.toSorted(compareEntries));
  }

  get length(): number {
    return this.root?.size ?? 0;
  }

  /** The entry at 0-based position `i` (negative counts from the end, as Array.at does). */
  at(i: number): QueueEntry | undefined {
    const n = this.length;
    let k = i < 0 ? i + n : i;
    if (!Number.isInteger(k) || k < 0 || k >= n) return undefined;
    let t = this.root;
    while (t !== null) {
      const l = t.left?.size ?? 0;
      if (k < l) t = t.left;
      else if (k === l) return t.entry;
      else {
        k -= l + 1;
        t = t.right;
      }
    }
    return undefined;
  }

  /** Where `entry` (as it is in the queue, with its current votes) stands: 0-based, or -1. */
  indexOf(entry: QueueEntry): number {
    const key = keyOf(entry);
    let i = 0;
    let t = this.root;
    while (t !== null) {
      const c = compare(key, t);
      if (c < 0) t = t.left;
      else if (c > 0) {
        i += (t.left?.size ?? 0) + 1;
        t = t.right;
      } else return t.entry.entryId === entry.entryId ? i + (t.left?.size ?? 0) : -1;
    }
    return -1;
  }

  /** The queue with `entry` in its place. */
  insert(entry: QueueEntry): Queue {
    return new Queue(insert(this.root, entry, keyOf(entry)), indexAdd(this.index, entry));
  }

  /** The queue without `entry`, which must be in it as it is (same votes). */
  remove(entry: QueueEntry): Queue {
    return new Queue(remove(this.root, entry, keyOf(entry)), indexRemove(this.index, entry));
  }

  /**
   * The queue with `before` (in it as it is) replaced by `after`: the same entry (id, track, adder)
   * with new counts, in its new place: in the same node when it stays between its neighbours,
   * else removed and inserted. The per-member counts and the track index do not change, and the
   * entry index is overwritten in place rather than deleted and set again.
   */
  replace(before: QueueEntry, after: QueueEntry): Queue {
    const root =
      replaceInPlace(this.root, before, after) ??
      insert(remove(this.root, before, keyOf(before)), after, keyOf(after));
    return new Queue(root, {
      byEntry: this.index.byEntry.set(after.entryId, after),
      byTrack: this.index.byTrack,
      perMember: this.index.perMember,
    });
  }

  /** The queued entry with this id. */
  byEntry(entryId: string): QueueEntry | undefined {
    return this.index.byEntry.get(entryId);
  }

  /** The queued entry of this track. */
  byTrack(trackId: string): QueueEntry | undefined {
    const entryId = this.index.byTrack.get(trackId);
    return entryId === undefined ? undefined : this.index.byEntry.get(entryId);
  }

  /** How many entries this member has waiting. */
  entriesOf(memberId: string): number {
    return this.index.perMember.get(memberId) ?? 0;
  }

  /** The summed durations of the first `count` entries and how many of them are of unknown length. */
  durationOfFirst(count: number): { readonly durationMs: number; readonly unknown: number } {
    let durationMs = 0;
    let unknown = 0;
    let k = Math.max(0, Math.min(count, this.length));
    let t = this.root;
    while (t !== null && k > 0) {
      const l = t.left?.size ?? 0;
      if (k <= l) t = t.left;
      else {
        durationMs += (t.left?.durationMs ?? 0) + t.entry.track.durationMs;
        unknown += (t.left?.unknown ?? 0) + (t.entry.track.durationMs === 0 ? 1 : 0);
        k -= l + 1;
        t = t.right;
      }
    }
    return { durationMs, unknown };
  }

  /** In order, from 0-based position `start`: O(log n) to get there, then O(1) amortised per entry. */
  *from(start: number): Generator<QueueEntry> {
    const stack: Node[] = [];
    let t = this.root;
    let k = Math.max(0, start);
    // Descend to position k, keeping the ancestors whose entry comes after it.
    while (t !== null) {
      const l = t.left?.size ?? 0;
      if (k < l) {
        stack.push(t);
        t = t.left;
      } else if (k === l) {
        stack.push(t);
        break;
      } else {
        k -= l + 1;
        t = t.right;
      }
    }
    while (stack.length > 0) {
      const n = stack.pop()!;
      yield n.entry;
      for (let c = n.right; c !== null; c = c.left) stack.push(c);
    }
  }

  [Symbol.iterator](): Iterator<QueueEntry> {
    return this.from(0);
  }

  /** Entries [start, end) as an array, like Array.slice (no negative indexes). */
  slice(start = 0, end = this.length): QueueEntry[] {
    const out: QueueEntry[] = [];
    if (end <= start) return out;
    for (const e of this.from(start)) {
      if (out.length >= end - start) break;
      out.push(e);
    }
    return out;
  }

  toArray(): QueueEntry[] {
    return this.slice();
  }

  map<T>(f: (entry: QueueEntry, index: number) => T): T[] {
    return this.toArray().map((e, i) => f(e, i));
  }

  forEach(f: (entry: QueueEntry, index: number) => void): void {
    let i = 0;
    for (const e of this) f(e, i++);
  }

  find(f: (entry: QueueEntry) => boolean): QueueEntry | undefined {
    for (const e of this) if (f(e)) return e;
    return undefined;
  }

  findIndex(f: (entry: QueueEntry) => boolean): number {
    let i = 0;
    for (const e of this) {
      if (f(e)) return i;
      i++;
    }
    return -1;
  }

  some(f: (entry: QueueEntry) => boolean): boolean {
    return this.find(f) !== undefined;
  }

  filter(f: (entry: QueueEntry) => boolean): QueueEntry[] {
    return this.toArray().filter((e) => f(e));
  }

  /** Snapshots, logs and APIs see the plain sorted array. */
  toJSON(): QueueEntry[] {
    return this.toArray();
  }

  /** console.log and assertion messages show the entries, not the tree (no node:util import here). */
  [Symbol.for('nodejs.util.inspect.custom')](): QueueEntry[] {
    return this.toArray();
  }
}
