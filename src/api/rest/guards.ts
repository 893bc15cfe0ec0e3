// Two checks every REST request passes before its route sees it, in one place instead of per route:
// - text is valid Unicode: JSON may carry a lone surrogate ("\ud800"), which no UTF-8 encoder can
//   send on; once stored, it would break every strict gRPC client (Python, Go, Java) reading the
//   room. Refused where it enters, with the field named.
// - the legacy API's writes need no token (as the earlier system's did), so any web page a person
//   visits could fire them at a node on their LAN (CSRF). A write whose Origin (or Sec-Fetch-Site)
//   says it comes from another site is refused; scripts and curl send no Origin and keep working.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { chorusError, refusal, wireError } from '../../domain/index.ts';

/** The path of the first string in `value` that is not well-formed Unicode, or null. */
export function illFormedText(value: unknown, at = ''): string | null {
  if (typeof value === 'string') return value.isWellFormed() ? null : at || '(value)';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = illFormedText(value[i], `${at}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      const name = at ? `${at}.${key}` : key;
      if (!key.isWellFormed()) return name;
      const found = illFormedText(inner, name);
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * Whether every string in `value` (keys included) is well-formed Unicode: what illFormedText checks,
 * without building a path for every field on the way (only a refusal needs one).
 */
function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) {
    for (const inner of value) if (!wellFormed(inner)) return false;
    return true;
  }
  // for-in and hasOwn: the own enumerable string keys, as Object.entries gives, without its arrays.
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (!key.isWellFormed() || !wellFormed((value as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** A preValidation hook (callback style: it runs on every request, and costs no promise). */
export function refuseIllFormedText(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: (err?: Error) => void,
): void {
  if (wellFormed(request.body) && wellFormed(request.query) && wellFormed(request.params)) {
    done();
    return;
  }
  const field =
    prefixed('body', illFormedText(request.body)) ??
    prefixed('query', illFormedText(request.query)) ??
    prefixed('params', illFormedText(request.params));
  done(field === null ? undefined : chorusError('TEXT_LONE_SURROGATE', { field }));
}

function prefixed(part: string, field: string | null): string | null {
  return field === null ? null : `${part}.${field}`;
}

/** The legacy API's writes (the routes that take no token). */
const LEGACY_WRITES = new Set(['/add_track', '/remove_track', '/vote', '/play_next', '/clear', '/sync']);

/** True when a browser says this request comes from a page of another site. */
export function crossSite(request: FastifyRequest): boolean {
  const fetchSite = request.headers['sec-fetch-site'];
  if (fetchSite === 'cross-site' || fetchSite === 'same-site') return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  const host = request.headers.host ?? '';
  try {
    const from = new URL(origin);
    // A proxy may pass the Host without its port: the host name must match then.
    return host.includes(':') ? from.host !== host : from.hostname !== host;
  } catch {
    return true; // "null" (a sandboxed page, a file) or garbage: not this site
  }
}

export async function refuseCrossSiteLegacyWrites(
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  if (request.method === 'GET' || request.method === 'HEAD') return;
  const path = request.url.split('?')[0] ?? '';
  if (!LEGACY_WRITES.has(path) || !crossSite(request)) return;
  const error = wireError(refusal('CROSS_SITE_WRITE'));
  await reply.code(403).type('application/json; charset=utf-8').send({ detail: error.message, error });
}
