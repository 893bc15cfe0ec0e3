// Authentication between the nodes of a Raft group (and of operators): every call carries
// `chorus-peer-auth` metadata, the sender's id and the time with an HMAC-SHA256 of both under the
// cluster secret. Peers and operators sign under different HMAC domains, so one's signature is
// never the other's. A signature more than a minute off this node's clock is refused.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import type { NodeId } from './types.ts';

const AUTH_KEY = 'chorus-peer-auth';
const AUTH_WINDOW_MS = 60_000;

function sign(secret: string, from: NodeId, at: number): string {
  return createHmac('sha256', secret).update(`chorus-raft-peer\n${from}\n${at}`).digest('hex');
}

export function authMetadata(secret: string, from: NodeId, now = Date.now()): Metadata {
  const md = new Metadata();
  md.set(AUTH_KEY, `${from}.${now}.${sign(secret, from, now)}`);
  return md;
}

/** The authenticated sender of a call, or null. */
export function verifyAuth(
  secret: string,
  peers: ReadonlySet<NodeId>,
  md: Metadata,
  now = Date.now(),
): NodeId | null {
  const raw = md.get(AUTH_KEY)[0];
  if (typeof raw !== 'string') return null;
  const m = /^([a-z0-9-]+)\.(\d+)\.([0-9a-f]{64})$/.exec(raw);
  if (!m || !peers.has(m[1]!)) return null;
  const at = Number(m[2]);
  if (Math.abs(now - at) > AUTH_WINDOW_MS) return null;
  const want = Buffer.from(sign(secret, m[1]!, at), 'hex');
  return timingSafeEqual(want, Buffer.from(m[3]!, 'hex')) ? m[1]! : null;
}

/** Operators sign under their own domain: a peer's signature is not an admin's, nor the reverse. */
function signAdmin(secret: string, at: number): string {
  return createHmac('sha256', secret).update(`chorus-raft-admin\n${at}`).digest('hex');
}

/** What `chorus raft …` sends: the time and an HMAC of it under the cluster secret. */
export function adminMetadata(secret: string, now = Date.now()): Metadata {
  const md = new Metadata();
  md.set(AUTH_KEY, `admin.${now}.${signAdmin(secret, now)}`);
  return md;
}

export function verifyAdmin(secret: string, md: Metadata, now = Date.now()): boolean {
  const raw = md.get(AUTH_KEY)[0];
  if (typeof raw !== 'string') return false;
  const m = /^admin\.(\d+)\.([0-9a-f]{64})$/.exec(raw);
  if (!m) return false;
  const at = Number(m[1]);
  if (Math.abs(now - at) > AUTH_WINDOW_MS) return false;
  return timingSafeEqual(Buffer.from(signAdmin(secret, at), 'hex'), Buffer.from(m[2]!, 'hex'));
}
