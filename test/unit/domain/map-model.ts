// Random sets and deletes replayed on a persistent map and on a Map beside it (the model): what the
// property tests of the persistent maps (hmap.test.ts, pmap.test.ts) check their map against.

import assert from 'node:assert/strict';

/** What both persistent maps offer. */
interface PersistentMap<M> {
  set(key: string, value: number): M;
  delete(key: string): M;
  get(key: string): number | undefined;
  has(key: string): boolean;
}

/** `[delete?, key, value]`. */
export type MapOp = readonly [boolean, string, number];

export type Entries = [string, number][];

export const byKey = ([a]: [string, number], [b]: [string, number]): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Applies `ops` to `empty` and to a Map; returns the last map, the Map, and every map made on the
 * way with the Map's entries then, in key order. Checks `get` and `has` of every key used.
 */
export function replay<M extends PersistentMap<M>>(
  empty: M,
  ops: readonly MapOp[],
): { map: M; model: Map<string, number>; versions: [M, Entries][] } {
  let map = empty;
  const model = new Map<string, number>();
  const versions: [M, Entries][] = [];
  for (const [del, key, value] of ops) {
    if (del) {
      map = map.delete(key);
      model.delete(key);
    } else {
      map = map.set(key, value);
      model.set(key, value);
    }
    versions.push([map, [...model].sort(byKey)]);
  }
  for (const [, key] of ops) {
    assert.equal(map.get(key), model.get(key), `get ${key}`);
    assert.equal(map.has(key), model.has(key), `has ${key}`);
  }
  return { map, model, versions };
}
