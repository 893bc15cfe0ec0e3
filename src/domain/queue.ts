// The queue as a persistent ordered structure: a B+-tree (entries in the leaves, 8 to 32 to a node)
// whose nodes are never changed once made. Inserting or removing an entry copies only the nodes on
// its path (4 at 100,000 entries) and shares the rest with the queue it came from, so a room of
// 100,000 entries changes about as cheaply as one of 100, and every older state stays intact.
// Wide nodes rather than a binary tree (issue 21): a treap walked ~25 nodes at 100,000 entries,
// each a likely cache miss, and a vote that moves its entry walks two such paths; here each level
// is one flat array (its sums, then keys, sizes and children side by side), searched without
// reading an entry: a few cache lines of one array a level where the treap read a node a level.
//
// Invariants:
// - In-order, the entries are sorted by `compareEntries` (score descending, then seq ascending);
//   seq is unique within a room, so keys are unique.
// - Every leaf is at the same depth; every node but the root holds MIN..MAX (8..32) entries or
//   children; a root that is a branch has at least two children.
// - A leaf keeps the score and seq of each of its entries beside it, a branch the last key of each
//   child and each child's size beside it (one flat array, `slots`), so a descent compares and
//   counts numbers held in the nodes it walks and reads no entry object; each node holds its
//   subtree's size, summed track
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
/** Slots per entry in a leaf: score, seq, entry. */
const LEAF = 3;
/** Slots per child in a branch: last score, last seq, size, child. */
const BRANCH = 4;
/** Slots before the first entry or child: kind (1 leaf, 0 branch), size, durationMs, unknown. */
const HEAD = 4;

type Slot = number | QueueEntry | Node;

/**
 * One flat array: HEAD slots (kind; the subtree's size, summed track durations and tracks of
 * unknown length, durationMs 0), then score, seq, entry for each entry of a leaf, or last score,
 * last seq, size, child for each child of a branch. An array, not an object holding one: a cold
 * descent reads one thing a level.
 */
type Node = readonly Slot[];

function isLeaf(n: Node): boolean {
  return n[0] === 1;
}

function sizeOf(n: Node): number {
  return n[1] as number;
}

function durationOf(n: Node): number {
  return n[2] as number;
}

function unknownIn(n: Node): number {
  return n[3] as number;
}

function width(n: Node): number {
  return (n.length - HEAD) / (isLeaf(n) ? LEAF : BRANCH);
}

/** `slots` (a new array, its first HEAD slots to be written) with its head written. */
function make(leaf: boolean, slots: Slot[], size: number, durationMs: number, unknown: number): Node {
  slots[0] = leaf ? 1 : 0;
  slots[1] = size;
  slots[2] = durationMs;
  slots[3] = unknown;
  return slots;
}

function scoreAt(n: Node, i: number): number {
  return n[HEAD + i * (isLeaf(n) ? LEAF : BRANCH)] as number;
}

function seqAt(n: Node, i: number): number {
  return n[HEAD + i * (isLeaf(n) ? LEAF : BRANCH) + 1] as number;
}

function entryAt(leaf: Node, i: number): QueueEntry {
  return leaf[HEAD + i * LEAF + 2] as QueueEntry;
}

function sizeAt(branch: Node, i: number): number {
  return branch[HEAD + i * BRANCH + 2] as number;
}

function childAt(branch: Node, i: number): Node {
  return branch[HEAD + i * BRANCH + 3] as Node;
}

function childrenOf(branch: Node): Node[] {
  return Array.from({ length: width(branch) }, (_, i) => childAt(branch, i));
}

/** A child's four slots in its parent. */
function slotsOf(c: Node): Slot[] {
  const last = width(c) - 1;
  return [scoreAt(c, last), seqAt(c, last), sizeOf(c), c];
}

/** The first entry or child whose key is at or after (score, seq) in queue order; the width when none is. */
function lowerBound(n: Node, score: number, seq: number): number {
  const step = isLeaf(n) ? LEAF : BRANCH;
  let lo = 0;
  let hi = (n.length - HEAD) / step;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const s = n[HEAD + mid * step] as number;
    if (s > score || (s === score && (n[HEAD + mid * step + 1] as number) < seq)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function unknownOf(entry: QueueEntry): number {
  return entry.track.durationMs === 0 ? 1 : 0;
}

/** A leaf of these entry slots (score, seq, entry each), its sums counted (where entries are regrouped). */
function leafOf(body: readonly Slot[]): Node {
  let durationMs = 0;
  let unknown = 0;
  for (let i = 2; i < body.length; i += LEAF) {
    const e = body[i] as QueueEntry;
    durationMs += e.track.durationMs;
    unknown += unknownOf(e);
  }
  return make(true, [0, 0, 0, 0, ...body], body.length / LEAF, durationMs, unknown);
}

/** A branch of these children, its keys and sums taken from them (where children are regrouped). */
function branchOf(children: readonly Node[]): Node {
  let size = 0;
  let durationMs = 0;
  let unknown = 0;
  for (const c of children) {
    size += sizeOf(c);
    durationMs += durationOf(c);
    unknown += unknownIn(c);
  }
  return make(false, [0, 0, 0, 0, ...children.flatMap(slotsOf)], size, durationMs, unknown);
}

/** Branch `p` with child `i` replaced by `c` (sums adjusted by the difference). */
function withChild(p: Node, i: number, c: Node): Node {
  const old = childAt(p, i);
  const slots = p.slice();
  const at = HEAD + i * BRANCH;
  const last = width(c) - 1;
  slots[at] = scoreAt(c, last);
  slots[at + 1] = seqAt(c, last);
  slots[at + 2] = sizeOf(c);
  slots[at + 3] = c;
  return make(
    false,
    slots,
    sizeOf(p) - sizeOf(old) + sizeOf(c),
    durationOf(p) - durationOf(old) + durationOf(c),
    unknownIn(p) - unknownIn(old) + unknownIn(c),
  );
}

/** Branch `p` with `count` children from `i` replaced by `replacement`. */
function spliceChildren(p: Node, i: number, count: number, replacement: readonly Node[]): Node {
  let size = sizeOf(p);
  let durationMs = durationOf(p);
  let unknown = unknownIn(p);
  for (let k = i; k < i + count; k++) {
    const c = childAt(p, k);
    size -= sizeOf(c);
    durationMs -= durationOf(c);
    unknown -= unknownIn(c);
  }
  for (const c of replacement) {
    size += sizeOf(c);
    durationMs += durationOf(c);
    unknown += unknownIn(c);
  }
  const slots = p.toSpliced(HEAD + i * BRANCH, count * BRANCH, ...replacement.flatMap(slotsOf));
  return make(false, slots, size, durationMs, unknown);
}

/** A node of more than MAX entries or children as two halves (each at least MIN). */
function halves(n: Node): [Node, Node] {
  const cut = width(n) >>> 1;
  if (isLeaf(n)) {
    const left = leafOf(n.slice(HEAD, HEAD + cut * LEAF));
    const right = make(
      true,
      [0, 0, 0, 0, ...n.slice(HEAD + cut * LEAF)],
      sizeOf(n) - sizeOf(left),
      durationOf(n) - durationOf(left),
      unknownIn(n) - unknownIn(left),
    );
    return [left, right];
  }
  const children = childrenOf(n);
  return [branchOf(children.slice(0, cut)), branchOf(children.slice(cut))];
}

/**
 * Two neighbouring nodes of one level (`a` before `b`) as one node, or two if that is over MAX. The
 * sums add up without reading an entry (at 100,000 entries each read is a likely cache miss).
 */
function rejoin(a: Node, b: Node): Node[] {
  const joined = make(
    isLeaf(a),
    [...a, ...b.slice(HEAD)],
    sizeOf(a) + sizeOf(b),
    durationOf(a) + durationOf(b),
    unknownIn(a) + unknownIn(b),
  );
  return width(joined) > MAX ? halves(joined) : [joined];
}

/** `t` with `entry` (key score, seq) inserted: one node, or two when it had to split. */
function insert(t: Node, entry: QueueEntry, score: number, seq: number): Node[] {
  const i = lowerBound(t, score, seq);
  let n: Node;
  if (isLeaf(t)) {
    n = make(
      true,
      t.toSpliced(HEAD + i * LEAF, 0, score, seq, entry),
      sizeOf(t) + 1,
      durationOf(t) + entry.track.durationMs,
      unknownIn(t) + unknownOf(entry),
    );
  } else {
    // After every child's last key: it goes at the end of the last child.
    const c = Math.min(i, width(t) - 1);
    const parts = insert(childAt(t, c), entry, score, seq);
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
  if (isLeaf(t)) {
    const gone = entryAt(t, i);
    if (scoreAt(t, i) !== score || seqAt(t, i) !== seq || gone.entryId !== entry.entryId) {
      throw misplaced(entry);
    }
    return make(
      true,
      t.toSpliced(HEAD + i * LEAF, LEAF),
      sizeOf(t) - 1,
      durationOf(t) - gone.track.durationMs,
      unknownIn(t) - unknownOf(gone),
    );
  }
  const c = remove(childAt(t, i), entry, score, seq);
  if (width(c) >= MIN || width(t) === 1) {
    return width(c) === 0 ? spliceChildren(t, i, 1, []) : withChild(t, i, c);
  }
  // Too small: rejoined with a neighbour (then split again if the two make more than MAX).
  return i + 1 < width(t)
    ? spliceChildren(t, i, 2, rejoin(c, childAt(t, i + 1)))
    : spliceChildren(t, i - 1, 2, rejoin(childAt(t, i - 1), c));
}

/** The root after a removal: a branch left with one child gives way to it; an empty tree is null. */
function settle(t: Node): Node | null {
  let n = t;
  while (!isLeaf(n) && width(n) === 1) n = childAt(n, 0);
  return width(n) === 0 ? null : n;
}

/** The root after an insertion that may have split it. */
function grow(parts: Node[]): Node {
  return parts.length === 1 ? parts[0]! : branchOf(parts);
}

/**
 * The tree with `before` replaced by `after` (key score, the same seq) in the same slot of the same
 * leaf, when `after` still sorts between the entries either side of it there; null when it must
 * move (or sits at either end of its leaf, whose neighbours are in other leaves). One descent and
 * one path copy instead of a removal and an insertion.
 */
function replaceInPlace(t: Node, before: QueueEntry, after: QueueEntry, score: number): Node | null {
  const seq = before.seq;
  const i = lowerBound(t, scoreOf(before), seq);
  if (i === width(t)) throw misplaced(before);
  if (!isLeaf(t)) {
    const c = replaceInPlace(childAt(t, i), before, after, score);
    return c === null ? null : withChild(t, i, c);
  }
  if (seqAt(t, i) !== seq || entryAt(t, i).entryId !== before.entryId) throw misplaced(before);
  if (i === 0 || i === width(t) - 1) return null;
  const prev = scoreAt(t, i - 1);
  const next = scoreAt(t, i + 1);
  // Strictly between: the previous sorts first (higher score, or equal with a smaller seq).
  if (!(prev > score || (prev === score && seqAt(t, i - 1) < seq))) return null;
  if (!(score > next || (score === next && seq < seqAt(t, i + 1)))) return null;
  const slots = t.slice();
  slots[HEAD + i * LEAF] = score;
  slots[HEAD + i * LEAF + 2] = after;
  return make(
    true,
    slots,
    sizeOf(t),
    durationOf(t) - before.track.durationMs + after.track.durationMs,
    unknownIn(t) - unknownOf(before) + unknownOf(after),
  );
}

interface Indexes {
  readonly byEntry: HMap<QueueEntry>;
  /** Track id -> entry id (not the entry: a vote then changes one index, not two). */
  readonly byTrack: HMap<string>;
  /** Entries waiting per member (addedBy). */
  readonly perMember: PMap<number>;
}

const EMPTY_LEAF: Node = make(true, [0, 0, 0, 0], 0, 0, 0);

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
    let level = groups(entries.length).map(([from, to]) =>
      leafOf(entries.slice(from, to).flatMap((e) => [scoreOf(e), e.seq, e])),
    );
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
    return this.#root === null ? 0 : sizeOf(this.#root);
  }

  /** The entry at 0-based position `i` (negative counts from the end, as Array.at does). */
  at(i: number): QueueEntry | undefined {
    const n = this.length;
    let k = i < 0 ? i + n : i;
    if (!Number.isInteger(k) || k < 0 || k >= n) return undefined;
    let t = this.#root!;
    while (!isLeaf(t)) {
      let c = 0;
      while (k >= sizeAt(t, c)) k -= sizeAt(t, c++);
      t = childAt(t, c);
    }
    return entryAt(t, k);
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
      if (isLeaf(t)) {
        return seqAt(t, i) === seq && scoreAt(t, i) === score && entryAt(t, i).entryId === entry.entryId
          ? before + i
          : -1;
      }
      for (let c = 0; c < i; c++) before += sizeAt(t, c);
      t = childAt(t, i);
    }
    return -1;
  }

  /** The queue with `entry` in its place. */
  insert(entry: QueueEntry): Queue {
    const score = scoreOf(entry);
    const root =
      this.#root === null
        ? leafOf([score, entry.seq, entry])
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
    if (!isLeaf(root) && width(root) < 2) throw new Error('a branch root of one child');
    let depth = -1;
    const visit = (n: Node, d: number, isRoot: boolean): void => {
      const w = width(n);
      if (!Number.isInteger(w) || w > MAX || (!isRoot && w < MIN))
        throw new Error(`a node of ${w} at depth ${d}`);
      if (isLeaf(n)) {
        if (depth === -1) depth = d;
        if (depth !== d) throw new Error(`leaves at depths ${depth} and ${d}`);
        for (let i = 0; i < w; i++) {
          const e = entryAt(n, i);
          if (scoreOf(e) !== scoreAt(n, i) || e.seq !== seqAt(n, i))
            throw new Error(`stale key at ${e.entryId}`);
        }
        const sums = leafOf(n.slice(HEAD));
        if (sizeOf(n) !== w || durationOf(sums) !== durationOf(n) || unknownIn(sums) !== unknownIn(n)) {
          throw new Error('stale leaf sums');
        }
        return;
      }
      const children = childrenOf(n);
      for (const c of children) visit(c, d + 1, false);
      const sums = branchOf(children);
      if (sums.length !== n.length || sums.some((x, i) => x !== n[i])) {
        throw new Error('stale child keys, sizes or branch sums');
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
    if (this.index.byEntry.size !== sizeOf(root)) throw new Error('index and tree differ in size');
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
      if (isLeaf(t)) {
        for (let i = 0; i < k; i++) {
          durationMs += entryAt(t, i).track.durationMs;
          unknown += unknownOf(entryAt(t, i));
        }
        break;
      }
      let c = 0;
      while (k >= sizeAt(t, c)) {
        const child = childAt(t, c++);
        durationMs += durationOf(child);
        unknown += unknownIn(child);
        k -= sizeOf(child);
        if (k === 0) break;
      }
      t = k === 0 ? null : childAt(t, c);
    }
    return { durationMs, unknown };
  }

  /** In order, from 0-based position `start`: O(log n) to get there, then O(1) amortised per entry. */
  *from(start: number): Generator<QueueEntry> {
    let k = Math.max(0, start);
    if (this.#root === null || k >= sizeOf(this.#root)) return;
    // The branches above the leaf holding position k, each with the slot of the child taken.
    const path: [Node, number][] = [];
    let t = this.#root;
    while (!isLeaf(t)) {
      let c = 0;
      while (k >= sizeAt(t, c)) k -= sizeAt(t, c++);
      path.push([t, c]);
      t = childAt(t, c);
    }
    for (;;) {
      for (let i = k; i < width(t); i++) yield entryAt(t, i);
      k = 0;
      // Up to the nearest branch with a child after the one taken, then down its first children.
      let top = path.pop();
      while (top !== undefined && top[1] + 1 >= width(top[0])) top = path.pop();
      if (top === undefined) return;
      const [p, c] = top;
      path.push([p, c + 1]);
      t = childAt(p, c + 1);
      while (!isLeaf(t)) {
        path.push([t, 0]);
        t = childAt(t, 0);
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
