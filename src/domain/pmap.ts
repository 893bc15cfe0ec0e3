// A persistent map from strings to values: a treap whose nodes are never changed once made, so
// setting or deleting a key copies only the O(log n) nodes on its path and shares the rest with
// the map it came from. Used where a room would otherwise copy or rebuild a whole map per command:
// an entry's votes (one key per voter) and the queue's indexes by entry, track and member.
//
// Invariants: in-order the keys are sorted (plain string comparison); each node's priority is a
// fixed hash of its key (no randomness), and no child ranks above its parent. Keys and priorities
// fix the shape, so equal maps are equal trees however they were built (a deep comparison of two
// states compares contents), and the depth is O(log n) expected.

interface Node<V> {
  readonly key: string;
  readonly value: V;
  readonly priority: number;
  readonly left: Node<V> | null;
  readonly right: Node<V> | null;
  readonly size: number;
}

/** FNV-1a over the key's UTF-16 code units, then murmur3's finaliser to spread the bits. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return mix32(h);
}

/** murmur3's 32-bit finaliser: nearby inputs get unrelated outputs (a bijection on 32 bits). */
export function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A total order on (priority, key): ties of the 32-bit hash go to the smaller key. */
function above(p: number, k: string, q: number, l: string): boolean {
  return p > q || (p === q && k < l);
}

function node<V>(
  key: string,
  value: V,
  priority: number,
  left: Node<V> | null,
  right: Node<V> | null,
): Node<V> {
  return { key, value, priority, left, right, size: 1 + (left?.size ?? 0) + (right?.size ?? 0) };
}

/** The nodes with keys below `key`, and those above (`key` itself is not in `t`). */
function split<V>(t: Node<V> | null, key: string): [Node<V> | null, Node<V> | null] {
  if (t === null) return [null, null];
  if (t.key < key) {
    const [l, r] = split(t.right, key);
    return [node(t.key, t.value, t.priority, t.left, l), r];
  }
  const [l, r] = split(t.left, key);
  return [l, node(t.key, t.value, t.priority, r, t.right)];
}

function merge<V>(a: Node<V> | null, b: Node<V> | null): Node<V> | null {
  if (a === null) return b;
  if (b === null) return a;
  return above(a.priority, a.key, b.priority, b.key)
    ? node(a.key, a.value, a.priority, a.left, merge(a.right, b))
    : node(b.key, b.value, b.priority, merge(a, b.left), b.right);
}

function set<V>(t: Node<V> | null, key: string, value: V, priority: number): Node<V> {
  if (t === null) return node(key, value, priority, null, null);
  if (key === t.key) return node(key, value, t.priority, t.left, t.right);
  // A key that ranks above this node cannot be below it: it goes here, the subtree split around it.
  if (above(priority, key, t.priority, t.key)) {
    const [l, r] = split(t, key);
    return node(key, value, priority, l, r);
  }
  return key < t.key
    ? node(t.key, t.value, t.priority, set(t.left, key, value, priority), t.right)
    : node(t.key, t.value, t.priority, t.left, set(t.right, key, value, priority));
}

function remove<V>(t: Node<V> | null, key: string): Node<V> | null {
  if (t === null) return null;
  if (key === t.key) return merge(t.left, t.right);
  if (key < t.key) {
    const left = remove(t.left, key);
    return left === t.left ? t : node(t.key, t.value, t.priority, left, t.right);
  }
  const right = remove(t.right, key);
  return right === t.right ? t : node(t.key, t.value, t.priority, t.left, right);
}

export class PMap<V> implements Iterable<[string, V]> {
  private static readonly EMPTY = new PMap<never>(null);

  /** The tree; null when empty. Enumerable, so deep equality compares the contents. */
  readonly root: Node<V> | null;

  private constructor(root: Node<V> | null) {
    this.root = root;
  }

  static empty<V>(): PMap<V> {
    return PMap.EMPTY;
  }

  static from<V>(entries: Iterable<readonly [string, V]>): PMap<V> {
    let map = PMap.empty<V>();
    for (const [k, v] of entries) map = map.set(k, v);
    return map;
  }

  get size(): number {
    return this.root?.size ?? 0;
  }

  get(key: string): V | undefined {
    let t = this.root;
    while (t !== null) {
      if (key === t.key) return t.value;
      t = key < t.key ? t.left : t.right;
    }
    return undefined;
  }

  has(key: string): boolean {
    let t = this.root;
    while (t !== null) {
      if (key === t.key) return true;
      t = key < t.key ? t.left : t.right;
    }
    return false;
  }

  set(key: string, value: V): PMap<V> {
    return new PMap(set(this.root, key, value, hashKey(key)));
  }

  delete(key: string): PMap<V> {
    const root = remove(this.root, key);
    return root === this.root ? this : new PMap(root);
  }

  /** In key order. */
  *[Symbol.iterator](): Iterator<[string, V]> {
    const stack: Node<V>[] = [];
    for (let t = this.root; t !== null; t = t.left) stack.push(t);
    while (stack.length > 0) {
      const n = stack.pop()!;
      yield [n.key, n.value];
      for (let t = n.right; t !== null; t = t.left) stack.push(t);
    }
  }

  keys(): string[] {
    return [...this].map(([k]) => k);
  }

  values(): V[] {
    return [...this].map(([, v]) => v);
  }
}
