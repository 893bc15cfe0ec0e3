// Token buckets keyed by who asks (a member, a client address): `rate` per second on average, bursts
// up to `burst`. A request over the limit is refused RESOURCE_EXHAUSTED with how long to wait, which
// REST sends as Retry-After. Buckets that have refilled are forgotten, so the table holds only the
// keys that are busy now (and is bounded anyway: past `maxKeys` the quietest go first).

import { chorusError } from '../domain/index.ts';

export interface RateLimit {
  /** Requests per second on average. */
  readonly rate: number;
  /** Requests allowed at once. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly limit: RateLimit;
  private readonly what: string;
  private readonly now: () => number;
  private readonly maxKeys: number;
  private buckets = new Map<string, Bucket>();

  constructor(what: string, limit: RateLimit, now: () => number = Date.now, maxKeys = 100_000) {
    this.what = what;
    this.limit = limit;
    this.now = now;
    this.maxKeys = maxKeys;
  }

  /** Takes one token for `key`, or throws RESOURCE_EXHAUSTED saying when to try again. */
  take(key: string): void {
    const now = this.now();
    const { rate, burst } = this.limit;
    const bucket = this.buckets.get(key);
    const tokens = bucket ? Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate) : burst;
    if (tokens < 1) {
      const retryAfterMs = Math.ceil(((1 - tokens) / rate) * 1000);
      throw chorusError('RATE_LIMITED', { what: this.what, rate, burst, retryAfterMs });
    }
    // Re-inserted at the end: the map stays ordered by last use, so the first keys are the quietest.
    this.buckets.delete(key);
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.buckets.size > this.maxKeys) this.sweep(now);
  }

  /** Forgets full buckets, then the quietest ones if still too many. */
  private sweep(now: number): void {
    const { rate, burst } = this.limit;
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * rate >= burst) this.buckets.delete(key);
    }
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.maxKeys / 2) break;
      this.buckets.delete(key);
    }
  }
}
