// Bearer tokens: a member id and room id, HMAC-signed with the cluster secret so that any node
// verifies a token another node issued, without shared session state.

import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenClaims {
  readonly roomId: string;
  readonly memberId: string;
}

const PREFIX = 'v1';
/** Verified tokens remembered, so a member's every request does not pay for an HMAC. */
const VERIFIED_KEPT = 10_000;

export class TokenSigner {
  private readonly secret: string;
  /** Tokens known good (only good ones: bad ones are cheap to make up and would push them out). */
  private readonly verified = new Map<string, TokenClaims>();

  constructor(secret: string) {
    if (secret.length < 16) throw new Error('the token secret must be at least 16 characters');
    this.secret = secret;
  }

  sign(claims: TokenClaims): string {
    const payload = Buffer.from(JSON.stringify({ r: claims.roomId, m: claims.memberId })).toString(
      'base64url',
    );
    return `${PREFIX}.${payload}.${this.mac(payload)}`;
  }

  /** The claims of a well-formed, correctly signed token; null for anything else. */
  verify(token: string): TokenClaims | null {
    const known = this.verified.get(token);
    if (known) return known;
    const claims = this.check(token);
    if (claims) {
      if (this.verified.size >= VERIFIED_KEPT) this.verified.clear();
      this.verified.set(token, claims);
    }
    return claims;
  }

  private check(token: string): TokenClaims | null {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== PREFIX) return null;
    const [, payload = '', mac = ''] = parts;
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
        r?: unknown;
        m?: unknown;
      };
      if (typeof claims.r !== 'string' || typeof claims.m !== 'string') return null;
      return { roomId: claims.r, memberId: claims.m };
    } catch {
      return null;
    }
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(`${PREFIX}.${payload}`).digest('base64url');
  }
}
