// Bearer tokens: a member id and room id, HMAC-signed with the cluster secret so that any node
// verifies a token another node issued, without shared session state.
//
// Rotation: tokens are always signed with the newest secret; previous secrets, each with the end of
// its grace period, still verify until that moment and are refused (401) from it on. The moment is
// absolute (a date), so every node ends the grace at the same time whenever it was started.

import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenClaims {
  readonly roomId: string;
  readonly memberId: string;
}

/** An old secret, accepted (never signed with) until `notAfter` (ms since the epoch). */
export interface PreviousSecret {
  readonly secret: string;
  readonly notAfter: number;
}

const PREFIX = 'v1';
/** Verified tokens remembered, so a member's every request does not pay for an HMAC. */
const VERIFIED_KEPT = 10_000;
const MIN_SECRET = 16;

export class TokenSigner {
  private readonly secret: string;
  private readonly previous: readonly PreviousSecret[];
  private readonly now: () => number;
  /**
   * Tokens known good, with when they stop being good (Infinity: signed with the newest secret).
   * Only good ones: bad ones are cheap to make up and would push them out.
   */
  private readonly verified = new Map<string, { claims: TokenClaims; until: number }>();

  constructor(secret: string, previous: readonly PreviousSecret[] = [], now: () => number = Date.now) {
    for (const s of [secret, ...previous.map((p) => p.secret)]) {
      if (s.length < MIN_SECRET) throw new Error('the token secret must be at least 16 characters');
    }
    this.secret = secret;
    this.previous = previous;
    this.now = now;
  }

  sign(claims: TokenClaims): string {
    const payload = Buffer.from(JSON.stringify({ r: claims.roomId, m: claims.memberId })).toString(
      'base64url',
    );
    return `${PREFIX}.${payload}.${mac(this.secret, payload)}`;
  }

  /** The claims of a well-formed token signed with a secret accepted now; null for anything else. */
  verify(token: string): TokenClaims | null {
    const at = this.now();
    const known = this.verified.get(token);
    if (known) {
      if (at < known.until) return known.claims;
      this.verified.delete(token);
      return null;
    }
    const found = this.check(token, at);
    if (found) {
      if (this.verified.size >= VERIFIED_KEPT) this.verified.clear();
      this.verified.set(token, found);
    }
    return found?.claims ?? null;
  }

  /**
   * A secret value of `bytes` bytes derived from the newest secret and `label` (base64url): the same
   * label gives the same value on every node, so a retried request is answered with the same key.
   */
  derive(label: string, bytes: number): string {
    return createHmac('sha256', this.secret)
      .update(`derive\0${label}`)
      .digest()
      .subarray(0, bytes)
      .toString('base64url');
  }

  private check(token: string, at: number): { claims: TokenClaims; until: number } | null {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== PREFIX) return null;
    const [, payload = '', given = ''] = parts;
    let until = -1;
    if (macMatches(this.secret, payload, given)) until = Number.POSITIVE_INFINITY;
    else {
      const old = this.previous.find((p) => at < p.notAfter && macMatches(p.secret, payload, given));
      if (old) until = old.notAfter;
    }
    if (until < 0) return null;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
        r?: unknown;
        m?: unknown;
      };
      if (typeof claims.r !== 'string' || typeof claims.m !== 'string') return null;
      return { claims: { roomId: claims.r, memberId: claims.m }, until };
    } catch {
      return null;
    }
  }
}

function mac(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(`${PREFIX}.${payload}`).digest('base64url');
}

function macMatches(secret: string, payload: string, given: string): boolean {
  const expected = Buffer.from(mac(secret, payload));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * `--previous-secret` values: `SECRET@WHEN`, WHEN an ISO 8601 date-time (or ms since the epoch)
 * ending the grace period; several separated by commas. Problems are pushed, not thrown.
 */
export function parsePreviousSecrets(text: string, problems: string[]): PreviousSecret[] {
  const out: PreviousSecret[] = [];
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const at = item.lastIndexOf('@');
    const secret = at < 0 ? '' : item.slice(0, at);
    const when = at < 0 ? '' : item.slice(at + 1);
    const notAfter = /^\d+$/.test(when) ? Number(when) : Date.parse(when);
    if (secret.length < MIN_SECRET || !Number.isFinite(notAfter)) {
      problems.push(
        '--previous-secret must be SECRET@UNTIL (SECRET at least 16 characters, UNTIL an ISO 8601 date-time or ms since the epoch), comma-separated',
      );
      continue;
    }
    out.push({ secret, notAfter });
  }
  return out;
}
