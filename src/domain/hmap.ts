// A persistent hash map from strings to values: a hash array mapped trie (HAMT), 32 slots a level,
// whose nodes are never changed once made. Setting or deleting a key copies the few nodes on its
// path (about log32 n: 4 at 100,000 keys) and shares the rest with the map it came from. Used for
// the queue's lookups by entry id and track id (queue.ts), where a vote rewrites one key of a map
// of every queued entry: a treap (pmap.ts) walks ~25 nodes there, each a likely cache miss, and
// compares strings at each. No order of keys is kept (pmap.ts keeps one where it is needed).
//
// Invariants:
// - A key's place is fixed by its 32-bit hash (pmap.ts's `hashKey`), 5 bits a level.
// - The shape is a function of the key set alone, so equal maps are equal trees however they were
//   built (a deep comparison of two states compares contents): a slot holding one key holds it as
//   a leaf, never as a branch of one; keys whose whole hashes are equal share one collision node,
//   sorted by key; a branch left with a single leaf or collision node by a delete is replaced by it.
// - The root is always a branch (possibly empty).

import { hashKey } from './pmap.ts';

const BITS = 5;
const MASK = (1 << BITS) - 1;

class Leaf<V> {
  readonly hash: number;
  readonly key: string;
  readonly value: V;
  constructor(hash: number, key: string, value: V) {
    this.hash = hash;
    this.key = key;
    this.value = value;
  }
}

/** Keys whose whole 32-bit hashes are equal, sorted by key (at least two). */
class Collision<V> {
  readonly hash: number;
  readonly leaves: readonly Leaf<V>[];
  constructor(hash: number, leaves: readonly Leaf<V>[]) {
    this.hash = hash;
    this.leaves = leaves;
  }
}

class Branch<V> {
  /** Bit i set: slot i of the level is taken, by the child at popcount(bitmap below i). */
  readonly bitmap: number;
  readonly children: readonly Child<V>[];
  constructor(bitmap: number, children: readonly Child<V>[]) {
    this.bitmap = bitmap;
    this.children = children;
  }
}

type Child<V> = Leaf<V> | Collision<V> | Branch<V>;

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** The slot of `hash` at `shift` (bits above 32 read as 0: 7 levels cover every hash). */
function slot(hash: number, shift: number): number {
  return shift >= 32 ? 0 : (hash >>> shift) & MASK;
}

/** A branch holding two different-hash children at `shift`, nested until their slots differ. */
function pair<V>(a: Leaf<V> | Collision<V>, b: Leaf<V>, shift: number): Branch<V> {
  const sa = slot(a.hash, shift);
  const sb = slot(b.hash, shift);
  if (sa === sb) return new Branch(1 << sa, [pair(a, b, shift + BITS)]);
  return new Branch((1 << sa) | (1 << sb), sa < sb ? [a, b] : [b, a]);
}

/** `t` with `leaf` set; `added` reports whether the key was new. */
function set<V>(t: Child<V>, leaf: Leaf<V>, shift: number, added: { value: boolean }): Child<V> {
  if (t instanceof Branch) {
    const bit = 1 << slot(leaf.hash, shift);
    const i = popcount(t.bitmap & (bit - 1));
    if ((t.bitmap & bit) === 0) {
      added.value = true;
      return new Branch(t.bitmap | bit, t.children.toSpliced(i, 0, leaf));
    }
    const child = t.children[i]!;
    const next = set(child, leaf, shift + BITS, added);
    return next === child ? t : new Branch(t.bitmap, t.children.with(i, next));
  }
  if (t instanceof Leaf) {
    if (t.key === leaf.key) return t.value === leaf.value ? t : leaf;
    added.value = true;
    if (t.hash === leaf.hash) return new Collision(t.hash, t.key < leaf.key ? [t, leaf] : [leaf, t]);
    return pair(t, leaf, shift);
  }
  if (t.hash !== leaf.hash) {
    added.value = true;
    return pair(t, leaf, shift);
  }
  const i = t.leaves.findIndex((l) => l.key >= leaf.key);
  if (i >= 0 && t.leaves[i]!.key === leaf.key) {
    return t.leaves[i]!.value === leaf.value ? t : new Collision(t.hash, t.leaves.with(i, leaf));
  }
  added.value = true;
  return new Collision(t.hash, t.leaves.toSpliced(i < 0 ? t.leaves.length : i, 0, leaf));
}

/** `t` without `key` (null: nothing left); `t` itself when the key is absent. */
function remove<V>(t: Child<V>, hash: number, key: string, shift: number): Child<V> | null {
  if (t instanceof Leaf) return t.key === key ? null : t;
  if (t instanceof Collision) {
    const i = t.leaves.findIndex((l) => l.key === key);
    if (i < 0) return t;
    const rest = t.leaves.toSpliced(i, 1);
    return rest.length === 1 ? rest[0]! : new Collision(t.hash, rest);
  }
  const bit = 1 << slot(hash, shift);
  if ((t.bitmap & bit) === 0) return t;
  const i = popcount(t.bitmap & (bit - 1));
  const child = t.children[i]!;
  const next = remove(child, hash, key, shift + BITS);
  if (next === child) return t;
  if (next === null) {
    const children = t.children.toSpliced(i, 1);
    // A branch left with one leaf (or collision) below the root gives way to it (canonical shape).
    if (children.length === 1 && shift > 0 && !(children[0] instanceof Branch)) return children[0]!;
    return new Branch(t.bitmap & ~bit, children);
  }
  if (t.children.length === 1 && shift > 0 && !(next instanceof Branch)) return next;
  return new Branch(t.bitmap, t.children.with(i, next));
}

function* walk<V>(t: Child<V>): Generator<[string, V]> {
  if (t instanceof Leaf) yield [t.key, t.value];
  else if (t instanceof Collision) for (const l of t.leaves) yield [l.key, l.value];
  else for (const c of t.children) yield* walk(c);
}

export class HMap<V> implements Iterable<[string, V]> {
  private static readonly EMPTY = new HMap<never>(new Branch(0, []), 0);

  static empty<V>(): HMap<V> {
    return HMap.EMPTY;
  }

  /** Enumerable, so deep equality compares the trees (equal for equal contents, see above). */
  readonly root: Branch<V>;
  readonly size: number;

  private constructor(root: Branch<V>, size: number) {
    this.root = root;
    this.size = size;
  }

  get(key: string): V | undefined {
    const hash = hashKey(key);
    let t: Child<V> = this.root;
    for (let shift = 0; ; shift += BITS) {
      if (t instanceof Branch) {
        const bit = 1 << slot(hash, shift);
        if ((t.bitmap & bit) === 0) return undefined;
        t = t.children[popcount(t.bitmap & (bit - 1))]!;
      } else if (t instanceof Leaf) {
        return t.key === key ? t.value : undefined;
      } else {
        return t.leaves.find((l) => l.key === key)?.value;
      }
    }
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** The map with `key` set to `value` (undefined is not a value: `get` could not tell it apart). */
  set(key: string, value: V): HMap<V> {
    const added = { value: false };
    const root = set(this.root, new Leaf(hashKey(key), key, value), 0, added) as Branch<V>;
    return root === this.root ? this : new HMap(root, this.size + (added.value ? 1 : 0));
  }

  delete(key: string): HMap<V> {
    const root = remove(this.root, hashKey(key), key, 0) as Branch<V>;
    return root === this.root ? this : new HMap(root, this.size - 1);
  }

  /** [key, value] in no particular (but a fixed) order. */
  [Symbol.iterator](): Iterator<[string, V]> {
    return walk<V>(this.root);
  }
}
