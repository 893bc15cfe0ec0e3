// Ids chosen by the proposing node (the state machine draws no random numbers itself).

import { randomBytes } from 'node:crypto';

// Random bytes are drawn from the OS a pool at a time: a call per id costs more than the id.
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;

function randomSlice(n: number): Buffer {
  if (used + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    used = 0;
  }
  used += n;
  return pool.subarray(used - n, used);
}

export function newId(prefix: string): string {
  return `${prefix}_${randomSlice(9).toString('base64url')}`;
}

/** A readable room slug from a name: "Friday Party!" -> "friday-party-k3x9". */
export function roomSlug(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  const suffix = randomBytes(4).toString('hex').slice(0, 5);
  return base ? `${base}-${suffix}` : `room-${suffix}`;
}
