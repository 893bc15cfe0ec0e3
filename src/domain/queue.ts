// The queue as a persistent ordered structure: a B+-tree (entries in the leaves, 8 to 32 to a node)
// whose nodes are never changed once made. Inserting or removing an entry copies only the nodes on
// its path (4 at 100,000 entries) and shares the rest with the queue it came from, so a room of
// 100,000 entries changes about as cheaply as one of 100, and every older state stays intact.
// Wide nodes rather than a binary tree (issue 21): a treap walked ~25 nodes at 100,000 entries,
// each a likely cache miss, and a vote that moves its entry walks two such paths; here each level
// is one node whose keys sit in two small number arrays, searched without reading an entry.
//
// Invariants:
// - In-order, the entries are sorted by `compareEntries` (score descending, then seq ascending);
//   seq is unique within a room, so keys are unique.
// - Every leaf is at the same depth; every node but the root holds MIN..MAX (8..32) entries or
//   children; a root that is a branch has at least two children.
// - A leaf keeps the score and seq of each of its entries (`scores`, `seqs`), a branch the last key
//   of each child and each child's size (`sizes`), so a descent compares and counts numbers held in
//   the nodes it walks and reads no entry object; each node holds its subtree's size, summed track
//   durations and count of tracks of unknown length (durationMs 0), so positions ("position N")
//   and ETAs cost O(log n).
// - The shape depends on the order of past operations (a B-tree's does), so the tree is a private
//   field, invisible to a deep comparison: what a deep comparison of two states sees of a queue is
//   its indexes below, which are functions of the entries alone (equal contents, equal objects;
//   the entries fix the order). Nothing is derived from the shape: JSON, positions, views and the
//   verifier's digests read the entries in order, so apply() stays deterministic.
// - Beside the tree, persistent hash maps (hmap.ts) index the entries by entry id and track id (both
//   unique within a queue: addTrack refuses a second one of either) and a persistent map (pmap.ts)
//   counts them per member, so lookups cost O(log n) for every state, old or new, nothing rebuilt.
// - JSON.stringify writes the queue as the plain sorted array it always was (toJSON), so snapshots
//   and logs keep their format; restore() turns the array back into a tree (Queue.fromSorted).

import { HMap } from './hmap.ts';
import { PMap } from './pmap.ts';
import { compareEntries, scoreOf } from './rank.ts';
import type { QueueEntry } from './types.ts';

export { compareEntries, scoreOf };

const MAX = 32;
/**
 * A quarter, not the textbook half: a node split at MAX + 1 holds 16 or 17, and with a minimum of
 * 16 the next removal from it would rejoin it with a neighbour (and often split them again).
 */
const MIN = MAX / 4;

/** A leaf (`entries` set, `children` and `sizes` null) or a branch (the other way round). */
interface Node {
  readonly entries: readonly QueueEntry[] | null;
  readonly children: readonly Node[] | null;
  /** Each child's size (branches). */
  readonly sizes: readonly number[] | null;
  /** The key of each entry (leaves) or the last key of each child (branches). */
  readonly scores: readonly number[];
  readonly seqs: readonly number[];
  readonly size: number;
  /** Summed track durations of the subtree. */
  readonly durationMs: number;
  /** Tracks of unknown length (durationMs 0) in the subtree. */
  readonly unknown: number;
}

function width(n: Node): number {
  return n.scores.length;
}

/** The first slot whose key is at or after (score, seq) in queue order; width(n) when none is. */
function lowerBound(n: Node, score: number, seq: number): number {
  const { scores, seqs } = n;
  let lo = 0;
  let hi = scores.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (scores[mid]! - score > 0 || (scores[mid] === score && seqs[mid]! < seq)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function unknownOf(entry: QueueEntry): number {
  return entry.track.durationMs === 0 ? 1 : 0;
}

/** A leaf of these entries and keys, its sums counted (used where entries are regrouped). */
function leafOf(entries: readonly QueueEntry[], scores: readonly number[], seqs: readonly number[]): Node {
  let durationMs = 0;
  let unknown = 0;
  for (const e of entries) {
    durationMs += e.track.durationMs;
    unknown += unknownOf(e);
  }
  return { entries, children: null, sizes: null, scores, seqs, size: entries.length, durationMs, unknown };
}

/** A branch of these children, its keys and sums taken from them (used where children are regrouped). */
function branchOf(children: readonly Node[]): Node {
  const sizes: number[] = [];
  const scores: number[] = [];
  const seqs: number[] = [];
  let size = 0;
  let durationMs = 0;
  let unknown = 0;
  for (const c of children) {
    sizes.push(c.size);
    scores.push(c.scores[width(c) - 1]!);
    seqs.push(c.seqs[width(c) - 1]!);
    size += c.size;
    durationMs += c.durationMs;
    unknown += c.unknown;
  }
  return { entries: null, children, sizes, scores, seqs, size, durationMs, unknown };
}

/** Branch `p` with child `i` replaced by `c` (sums adjusted by the difference, no child read). */
function withChild(p: Node, i: number, c: Node): Node {
  const old = p.children![i]!;
  return {
    entries: null,
    children: p.children!.with(i, c),
    sizes: p.sizes!.with(i, c.size),
    scores: p.scores.with(i, c.scores[width(c) - 1]!),
    seqs: p.seqs.with(i, c.seqs[width(c) - 1]!),
    size: p.size - old.size + c.size,
    durationMs: p.durationMs - old.durationMs + c.durationMs,
    unknown: p.unknown - old.unknown + c.unknown,
  };
}

/** Branch `p` with `count` children from `i` replaced by `replacement`. */
function spliceChildren(p: Node, i: number, count: number, replacement: readonly Node[]): Node {
  const children = p.children!.toSpliced(i, count, ...replacement);
  let durationMs = p.durationMs;
  let unknown = p.unknown;
  let size = p.size;
  for (let k = i; k < i + count; k++) {
    const c = p.children![k]!;
    durationMs -= c.durationMs;
    unknown -= c.unknown;
    size -= c.size;
  }
  for (const c of replacement) {
    durationMs += c.durationMs;
    unknown += c.unknown;
    size += c.size;
  }
  return {
    entries: null,
    children,
    sizes: p.sizes!.toSpliced(i, count, ...replacement.map((c) => c.size)),
    scores: p.scores.toSpliced(i, count, ...replacement.map((c) => c.scores[width(c) - 1]!)),
    seqs: p.seqs.toSpliced(i, count, ...replacement.map((c) => c.seqs[width(c) - 1]!)),
    size,
    durationMs,
    unknown,
  };
}

/** A node of more than MAX slots as two halves (each at least MIN). */
function halves(n: Node): [Node, Node] {
  const cut = width(n) >>> 1;
  if (n.entries !== null) {
    const left = leafOf(n.entries.slice(0, cut), n.scores.slice(0, cut), n.seqs.slice(0, cut));
    const right: Node = {
      entries: n.entries.slice(cut),
      children: null,
      sizes: null,
      scores: n.scores.slice(cut),
      seqs: n.seqs.slice(cut),
      size: n.size - left.size,
      durationMs: n.durationMs - left.durationMs,
      unknown: n.unknown - left.unknown,
    };
    return [left, right];
  }
  return [branchOf(n.children!.slice(0, cut)), branchOf(n.children!.slice(cut))];
}

/**
 * Two neighbouring nodes of one level (`a` before `b`) as one node, or two if that is over MAX. The
 * sums add up without reading an entry (at 100,000 entries each read is a likely cache miss).
 */
function rejoin(a: Node, b: Node): Node[] {
  const joined: Node =
    a.entries !== null
      ? {
          entries: [...a.entries, ...b.entries!],
          children: null,
          sizes: null,
          scores: [...a.scores, ...b.scores],
          seqs: [...a.seqs, ...b.seqs],
          size: a.size + b.size,
          durationMs: a.durationMs + b.durationMs,
          unknown: a.unknown + b.unknown,
        }
      : branchOf([...a.children!, ...b.children!]);
  return width(joined) > MAX ? halves(joined) : [joined];
}

/** `t` with `entry` (key score, seq) inserted: one node, or two when it had to split. */
function insert(t: Node, entry: QueueEntry, score: number, seq: number): Node[] {
  const i = lowerBound(t, score, seq);
  let n: Node;
  if (t.entries !== null) {
    n = {
      entries: t.entries.toSpliced(i, 0, entry),
      children: null,
      sizes: null,
      scores: t.scores.toSpliced(i, 0, score),
      seqs: t.seqs.toSpliced(i, 0, seq),
      size: t.size + 1,
      durationMs: t.durationMs + entry.track.durationMs,
      unknown: t.unknown + unknownOf(entry),
    };
  } else {
    // After every child's last key: it goes at the end of the last child.
    const c = Math.min(i, width(t) - 1);
    const parts = insert(t.children![c]!, entry, score, seq);
    n = parts.length === 1 ? withChild(t, c, parts[0]!) : spliceChildren(t, c, 1, parts);
  }
  return width(n) > MAX ? halves(n) : [n];
}

function misplaced(entry: QueueEntry): Error {
  return new Error(`entry ${entry.entryId} is not where its order says`);
}

/** `t` without `entry` (key score, seq); the result may hold fewer than MIN (its parent mends it). */
function remove(t: Node, entry: QueueEntry, score: number, seq: number): Node {
  const i = lowerBound(t, score, seq);
  if (i === width(t)) throw misplaced(entry);
  if (t.entries !== null) {
    if (t.scores[i] !== score || t.seqs[i] !== seq || t.entries[i]!.entryId !== entry.entryId) {
      throw misplaced(entry);
    }
    const gone = t.entries[i]!;
    return {
      entries: t.entries.toSpliced(i, 1),
      children: null,
      sizes: null,
      scores: t.scores.toSpliced(i, 1),
      seqs: t.seqs.toSpliced(i, 1),
      size: t.size - 1,
      durationMs: t.durationMs - gone.track.durationMs,
      unknown: t.unknown - unknownOf(gone),
    };
  }
  const c = remove(t.children![i]!, entry, score, seq);
  if (width(c) >= MIN || width(t) === 1) {
    return width(c) === 0 ? spliceChildren(t, i, 1, []) : withChild(t, i, c);
  }
  // Too small: rejoined with a neighbour (then split again if the two make more than MAX).
  const j = i + 1 < width(t) ? i : i - 1;
  const [a, b] = j === i ? [c, t.children![i + 1]!] : [t.children![i - 1]!, c];
  return spliceChildren(t, j, 2, rejoin(a, b));
}

/** The root after a removal: a branch left with one child gives way to it; an empty tree is null. */
function settle(t: Node): Node | null {
  let n = t;
  while (n.children !== null && n.children.length === 1) n = n.children[0]!;
  return width(n) === 0 ? null : n;
}

/** The root after an insertion that may have split it. */
function grow(parts: Node[]): Node {
  return parts.length === 1 ? parts[0]! : branchOf(parts);
}

/**
 * The tree with `before` replaced by `after` in the same slot of the same leaf, when `after` still
 * sorts between the entries either side of it there; null when it must move (or sits at either
 * end of its leaf, whose neighbours are in other leaves). One descent and one path copy instead of
 * a removal and an insertion.
 */
function replaceInPlace(t: Node, before: QueueEntry, after: QueueEntry, score: number): Node | null {
  const seq = before.seq;
  const i = lowerBound(t, scoreOf(before), seq);
  if (i === width(t)) throw misplaced(before);
  if (t.entries !== null) {
    if (t.seqs[i] !== seq || t.entries[i]!.entryId !== before.entryId) throw misplaced(before);
    if (i === 0 || i === width(t) - 1) return null;
    const prev = t.scores[i - 1]!;
    const next = t.scores[i + 1]!;
    // Strictly between: the previous sorts first (higher score, or equal with a smaller seq).
    if (!(prev > score || (prev === score && t.seqs[i - 1]! < seq))) return null;
    if (!(score > next || (score === next && seq < t.seqs[i + 1]!))) return null;
    return {
      entries: t.entries.with(i, after),
      children: null,
      sizes: null,
      scores: t.scores.with(i, score),
      seqs: t.seqs,
      size: t.size,
      durationMs: t.durationMs - before.track.durationMs + after.track.durationMs,
      unknown: t.unknown - unknownOf(before) + unknownOf(after),
    };
  }
  const c = replaceInPlace(t.children![i]!, before, after, score);
  return c === null ? null : withChild(t, i, c);
}

interface Indexes {
  readonly byEntry: HMap<QueueEntry>;
  /** Track id -> entry id (not the entry: a vote then changes one index, not two). */
  readonly byTrack: HMap<string>;
  /** Entries waiting per member (addedBy). */
  readonly perMember: PMap<number>;
}

const EMPTY_LEAF: Node = leafOf([], [], []);

/** Slices [from, to) cutting `n` items into the fewest groups of at most MAX, as even as can be. */
function groups(n: number): [number, number][] {
  const count = Math.ceil(n / MAX);
  return Array.from({ length: count }, (_, g) => [
    Math.floor((g * n) / count),
    Math.floor(((g + 1) * n) / count),
  ]);
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

  /** The tree; null when empty. Private, so invisible to deep comparisons (see the invariants). */
  readonly #root: Node | null;
  /** Enumerable: deep equality of states compares these, functions of the entries alone. */
  readonly index: Indexes;

  private constructor(root: Node | null, index: Indexes) {
    this.#root = root;
    this.index = index;
  }

  /**
   * The queue of these entries, which must already be in queue order (as in a snapshot); built in
   * O(n) level by level (nodes filled evenly, each MIN..MAX), not by n insertions.
   */
  static fromSorted(entries: readonly QueueEntry[]): Queue {
    for (let i = 1; i < entries.length; i++) {
      if (compareEntries(entries[i - 1]!, entries[i]!) >= 0) {
        throw new Error(`queue entries are not in order at ${i} (${entries[i]!.entryId})`);
      }
    }
    if (entries.length === 0) return Queue.EMPTY;
    let level = groups(entries.length).map(([from, to]) => {
      const slice = entries.slice(from, to);
      return leafOf(
        slice,
        slice.map((e) => scoreOf(e)),
        slice.map((e) => e.seq),
      );
    });
    while (level.length > 1) {
      const below = level;
      level = groups(below.length).map(([from, to]) => branchOf(below.slice(from, to)));
    }
    let index = NO_INDEXES;
    for (const entry of entries) index = indexAdd(index, entry);
    return new Queue(level[0]!, index);
  }

  /** Any entries, sorted here into queue order. */
  static of(entries: readonly QueueEntry[]): Queue {
    return Queue.fromSorted(entries.toSorted(compareEntries));
  }

  get length(): number {
    return this.#root?.size ?? 0;
  }

  /** The entry at 0-based position `i` (negative counts from the end, as Array.at does). */
  at(i: number): QueueEntry | undefined {
    const n = this.length;
    let k = i < 0 ? i + n : i;
    if (!Number.isInteger(k) || k < 0 || k >= n) return undefined;
    let t = this.#root!;
    while (t.entries === null) {
      let c = 0;
      while (k >= t.sizes![c]!) k -= t.sizes![c++]!;
      t = t.children![c]!;
    }
    return t.entries[k];
  }

  /** Where `entry` (as it is in the queue, with its current votes) stands: 0-based, or -1. */
  indexOf(entry: QueueEntry): number {
    const score = scoreOf(entry);
    const seq = entry.seq;
    let t = this.#root;
    let before = 0;
    while (t !== null) {
      const i = lowerBound(t, score, seq);
      if (i === width(t)) return -1;
      if (t.entries !== null) {
        return t.seqs[i] === seq && t.scores[i] === score && t.entries[i]!.entryId === entry.entryId
          ? before + i
          : -1;
      }
      for (let c = 0; c < i; c++) before += t.sizes![c]!;
      t = t.children![i]!;
    }
    return -1;
  }

  /** The queue with `entry` in its place. */
  insert(entry: QueueEntry): Queue {
    const score = scoreOf(entry);
    const root =
      this.#root === null
        ? leafOf([entry], [score], [entry.seq])
        : grow(insert(this.#root, entry, score, entry.seq));
    return new Queue(root, indexAdd(this.index, entry));
  }

  /** The queue without `entry`, which must be in it as it is (same votes). */
  remove(entry: QueueEntry): Queue {
    if (this.#root === null) throw misplaced(entry);
    return new Queue(
      settle(remove(this.#root, entry, scoreOf(entry), entry.seq)),
      indexRemove(this.index, entry),
    );
  }

  /**
   * The queue with `before` (in it as it is) replaced by `after`: the same entry (id, track, adder,
   * seq) with new counts, in its new place: in the same slot when it stays between its neighbours,
   * else removed and inserted. The per-member counts and the track index do not change, and the
   * entry index is overwritten in place rather than deleted and set again.
   */
  replace(before: QueueEntry, after: QueueEntry): Queue {
    if (this.#root === null || before.seq !== after.seq) throw misplaced(before);
    const score = scoreOf(after);
    const root =
      replaceInPlace(this.#root, before, after, score) ??
      grow(
        insert(
          settle(remove(this.#root, before, scoreOf(before), before.seq)) ?? EMPTY_LEAF,
          after,
          score,
          after.seq,
        ),
      );
    return new Queue(root, {
      byEntry: this.index.byEntry.set(after.entryId, after),
      byTrack: this.index.byTrack,
      perMember: this.index.perMember,
    });
  }

  /**
   * The tree's invariants (see the top of this file), checked node by node; throws on the first
   * broken one. For tests: nothing in the room calls it.
   */
  checkShape(): void {
    const root = this.#root;
    if (root === null) return;
    if (root.children !== null && root.children.length < 2) throw new Error('a branch root of one child');
    let depth = -1;
    const visit = (n: Node, d: number, isRoot: boolean): void => {
      const w = width(n);
      if (w > MAX || (!isRoot && w < MIN)) throw new Error(`a node of ${w} at depth ${d}`);
      if (n.seqs.length !== w) throw new Error('keys of two lengths');
      if (n.entries !== null) {
        if (depth === -1) depth = d;
        if (depth !== d) throw new Error(`leaves at depths ${depth} and ${d}`);
        const sums = leafOf(n.entries, n.scores, n.seqs);
        n.entries.forEach((e, i) => {
          if (scoreOf(e) !== n.scores[i] || e.seq !== n.seqs[i]) throw new Error(`stale key at ${e.entryId}`);
        });
        if (n.size !== w || sums.durationMs !== n.durationMs || sums.unknown !== n.unknown) {
          throw new Error('stale leaf sums');
        }
        return;
      }
      n.children!.forEach((c) => visit(c, d + 1, false));
      const sums = branchOf(n.children!);
      const same = (a: readonly number[], b: readonly number[]) => a.every((x, i) => x === b[i]);
      if (!same(sums.sizes!, n.sizes!) || !same(sums.scores, n.scores) || !same(sums.seqs, n.seqs)) {
        throw new Error('stale child sizes or keys');
      }
      if (sums.size !== n.size || sums.durationMs !== n.durationMs || sums.unknown !== n.unknown) {
        throw new Error('stale branch sums');
      }
    };
    visit(root, 0, true);
    let previous: QueueEntry | undefined;
    for (const e of this) {
      if (previous !== undefined && compareEntries(previous, e) >= 0)
        throw new Error(`out of order at ${e.entryId}`);
      if (this.index.byEntry.get(e.entryId) !== e) throw new Error(`index stale at ${e.entryId}`);
      previous = e;
    }
    if (this.index.byEntry.size !== root.size) throw new Error('index and tree differ in size');
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
    let t = this.#root;
    while (t !== null && k > 0) {
      if (t.entries !== null) {
        for (let i = 0; i < k; i++) {
          durationMs += t.entries[i]!.track.durationMs;
          unknown += unknownOf(t.entries[i]!);
        }
        break;
      }
      let c = 0;
      while (k >= t.sizes![c]!) {
        const child = t.children![c++]!;
        durationMs += child.durationMs;
        unknown += child.unknown;
        k -= child.size;
        if (k === 0) break;
      }
      t = k === 0 ? null : t.children![c]!;
    }
    return { durationMs, unknown };
  }

  /** In order, from 0-based position `start`: O(log n) to get there, then O(1) amortised per entry. */
  *from(start: number): Generator<QueueEntry> {
    let k = Math.max(0, start);
    if (this.#root === null || k >= this.#root.size) return;
    // The branches above the leaf holding position k, each with the slot of the child taken.
    const path: [Node, number][] = [];
    let t = this.#root;
    while (t.entries === null) {
      let c = 0;
      while (k >= t.sizes![c]!) k -= t.sizes![c++]!;
      path.push([t, c]);
      t = t.children![c]!;
    }
    for (;;) {
      for (let i = k; i < t.entries.length; i++) yield t.entries[i]!;
      k = 0;
      // Up to the nearest branch with a child after the one taken, then down its first children.
      let top = path.pop();
      while (top !== undefined && top[1] + 1 >= width(top[0])) top = path.pop();
      if (top === undefined) return;
      const [p, c] = top;
      path.push([p, c + 1]);
      t = p.children![c + 1]!;
      while (t.entries === null) {
        path.push([t, 0]);
        t = t.children![0]!;
      }
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
