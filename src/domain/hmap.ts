// A persistent hash map from strings to values: a hash array mapped trie (HAMT), 32 slots a level,
// whose nodes are never changed once made. Setting or deleting a key copies the few nodes on its
// path (about log32 n: 4 at 100,000 keys) and shares the rest with the map it came from. Used for
// the queue's lookups by entry id and track id (queue.ts) and the idempotency window's by command
// id (recent.ts), where a command reads or rewrites one key of a map of every queued entry: a treap
// (pmap.ts) walks ~25 nodes there, each a likely cache miss, and compares strings at each. No order
// of keys is kept (pmap.ts keeps one where it is needed).
//
// Layout (issue 21: at 100,000 keys every node read is a likely cache miss, and a read costs more
// than the work done with it): a branch is one flat array, its bitmap in the first two slots (16
// bits each, so both stay small integers) and then two slots per taken slot: a key and its value
// (a leaf, stored inline), or null and the child (a branch or a collision node). A lookup reads one
// array a level and the key's string at the end.
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

/** Keys whose whole 32-bit hashes are equal, sorted by key (at least two). */
class Collision<V> {
  readonly hash: number;
  readonly keys: readonly string[];
  readonly values: readonly V[];
  constructor(hash: number, keys: readonly string[], values: readonly V[]) {
    this.hash = hash;
    this.keys = keys;
    this.values = values;
  }
}

/**
 * [bitmap low 16 bits, bitmap high 16 bits, then for each taken slot, in slot order: a key and its
 * value (a leaf), or null and a child (a branch or a collision node)]. Bit i of the bitmap set:
 * slot i is taken, its pair at 2 + 2 * popcount(bits below i).
 */
type Branch = readonly unknown[];
/** A leaf ([key, value]) or a child node ([null, node]): a taken slot's pair. */
type Pair = readonly [string | null, unknown];

const EMPTY_BRANCH: Branch = [0, 0];

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

function bitmapOf(b: Branch): number {
  return ((b[0] as number) | ((b[1] as number) << 16)) >>> 0;
}

/** These slots with `bits` as their bitmap (written into the first two: the array is new). */
function branch(slots: unknown[], bits: number): Branch {
  slots[0] = bits & 0xffff;
  slots[1] = bits >>> 16;
  return slots;
}

/** The slot of `hash` at `shift` (bits above 32 read as 0: 7 levels cover every hash). */
function slot(hash: number, shift: number): number {
  return shift >= 32 ? 0 : (hash >>> shift) & MASK;
}

/** A branch of two pairs (leaves or collision nodes) of different hashes at `shift`, nested until they part. */
function pair(a: Pair, ha: number, b: Pair, hb: number, shift: number): Branch {
  const sa = slot(ha, shift);
  const sb = slot(hb, shift);
  if (sa === sb) return branch([0, 0, null, pair(a, ha, b, hb, shift + BITS)], 1 << sa);
  const [first, second] = sa < sb ? [a, b] : [b, a];
  return branch([0, 0, first[0], first[1], second[0], second[1]], (1 << sa) | (1 << sb));
}

/** `t` with `key` set to `value`; `added` reports whether the key was new. */
function setIn(
  t: Branch,
  hash: number,
  key: string,
  value: unknown,
  shift: number,
  added: { value: boolean },
): Branch {
  const bits = bitmapOf(t);
  const bit = 1 << slot(hash, shift);
  const at = 2 + 2 * popcount(bits & (bit - 1));
  if ((bits & bit) === 0) {
    added.value = true;
    return branch(t.toSpliced(at, 0, key, value), bits | bit);
  }
  const k = t[at] as string | null;
  if (k === null) {
    const child = t[at + 1] as Branch | Collision<unknown>;
    const next =
      child instanceof Collision
        ? setCollision(child, hash, key, value, shift + BITS, added)
        : setIn(child, hash, key, value, shift + BITS, added);
    return next === child ? t : t.with(at + 1, next);
  }
  if (k === key) return t[at + 1] === value ? t : t.with(at + 1, value);
  added.value = true;
  const h = hashKey(k);
  const old = t[at + 1];
  const sub =
    h !== hash
      ? pair([k, old], h, [key, value], hash, shift + BITS)
      : k < key
        ? new Collision(h, [k, key], [old, value])
        : new Collision(h, [key, k], [value, old]);
  return t.toSpliced(at, 2, null, sub);
}

/** A collision node at `shift` with `key` set: the node itself, or a branch when the hash differs. */
function setCollision(
  c: Collision<unknown>,
  hash: number,
  key: string,
  value: unknown,
  shift: number,
  added: { value: boolean },
): Branch | Collision<unknown> {
  if (c.hash !== hash) {
    added.value = true;
    return pair([null, c], c.hash, [key, value], hash, shift);
  }
  const i = c.keys.findIndex((k) => k >= key);
  if (i >= 0 && c.keys[i] === key) {
    return c.values[i] === value ? c : new Collision(c.hash, c.keys, c.values.with(i, value));
  }
  added.value = true;
  const at = i < 0 ? c.keys.length : i;
  return new Collision(c.hash, c.keys.toSpliced(at, 0, key), c.values.toSpliced(at, 0, value));
}

/** What a removal leaves in place of a subtree: the same branch, a new one, a lone pair, or nothing. */
type Removed = { readonly branch: Branch } | { readonly pair: Pair } | null;

/**
 * `t` without `key`; `t` itself (as { branch: t }) when the key is absent. Below the root, a branch
 * left with one leaf or collision node gives way to it (canonical shape), and an empty one to null.
 */
function removeIn(t: Branch, hash: number, key: string, shift: number): Removed {
  const bits = bitmapOf(t);
  const bit = 1 << slot(hash, shift);
  const same = { branch: t };
  if ((bits & bit) === 0) return same;
  const at = 2 + 2 * popcount(bits & (bit - 1));
  const k = t[at] as string | null;
  let replacement: Pair | null;
  if (k !== null) {
    if (k !== key) return same;
    replacement = null;
  } else {
    const child = t[at + 1] as Branch | Collision<unknown>;
    if (child instanceof Collision) {
      const i = child.keys.indexOf(key);
      if (i < 0) return same;
      replacement =
        child.keys.length === 2
          ? [child.keys[1 - i]!, child.values[1 - i]]
          : [null, new Collision(child.hash, child.keys.toSpliced(i, 1), child.values.toSpliced(i, 1))];
    } else {
      const next = removeIn(child, hash, key, shift + BITS);
      if (next !== null && 'branch' in next && next.branch === child) return same;
      replacement = next === null ? null : 'pair' in next ? next.pair : [null, next.branch];
    }
  }
  const slots =
    replacement === null ? t.toSpliced(at, 2) : t.toSpliced(at, 2, replacement[0], replacement[1]);
  if (shift > 0 && slots.length === 2) return null;
  if (shift > 0 && slots.length === 4 && (slots[2] !== null || slots[3] instanceof Collision)) {
    return { pair: [slots[2] as string | null, slots[3]] };
  }
  return { branch: branch(slots, replacement === null ? bits & ~bit : bits) };
}

function* walk<V>(t: Branch): Generator<[string, V]> {
  for (let i = 2; i < t.length; i += 2) {
    const k = t[i] as string | null;
    const v = t[i + 1];
    if (k !== null) yield [k, v as V];
    else if (v instanceof Collision)
      for (let j = 0; j < v.keys.length; j++) yield [v.keys[j]!, v.values[j] as V];
    else yield* walk<V>(v as Branch);
  }
}

export class HMap<V> implements Iterable<[string, V]> {
  private static readonly EMPTY = new HMap<never>(EMPTY_BRANCH, 0);

  static empty<V>(): HMap<V> {
    return HMap.EMPTY;
  }

  /** Enumerable, so deep equality compares the trees (equal for equal contents, see above). */
  readonly root: Branch;
  readonly size: number;

  private constructor(root: Branch, size: number) {
    this.root = root;
    this.size = size;
  }

  get(key: string): V | undefined {
    const hash = hashKey(key);
    let t = this.root;
    for (let shift = 0; ; shift += BITS) {
      const bits = bitmapOf(t);
      const bit = 1 << slot(hash, shift);
      if ((bits & bit) === 0) return undefined;
      const at = 2 + 2 * popcount(bits & (bit - 1));
      const k = t[at];
      if (k !== null) return k === key ? (t[at + 1] as V) : undefined;
      const child = t[at + 1] as Branch | Collision<V>;
      if (child instanceof Collision) {
        const i = child.keys.indexOf(key);
        return i < 0 ? undefined : child.values[i];
      }
      t = child;
    }
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** The map with `key` set to `value` (undefined is not a value: `get` could not tell it apart). */
  set(key: string, value: V): HMap<V> {
    const added = { value: false };
    const root = setIn(this.root, hashKey(key), key, value, 0, added);
    return root === this.root ? this : new HMap(root, this.size + (added.value ? 1 : 0));
  }

  delete(key: string): HMap<V> {
    const out = removeIn(this.root, hashKey(key), key, 0);
    // At the root a removal always leaves a branch (possibly empty).
    const root = out !== null && 'branch' in out ? out.branch : EMPTY_BRANCH;
    return root === this.root ? this : new HMap(root, this.size - 1);
  }

  /** [key, value] in no particular (but a fixed) order. */
  [Symbol.iterator](): Iterator<[string, V]> {
    return walk<V>(this.root);
  }
}
