// Node-to-node authentication of the Raft transport: only a peer holding the cluster secret, naming
// itself, recently, gets in.

import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { test } from 'node:test';
import { authMetadata, verifyAuth } from '../../../src/store/raft/transport.ts';

const SECRET = 'the-cluster-secret-0123456789';
const PEERS = new Set(['a', 'b', 'c']);

void test('a call signed with the cluster secret by a member is accepted as that member', () => {
  assert.equal(verifyAuth(SECRET, PEERS, authMetadata(SECRET, 'b')), 'b');
});

void test('calls without the HMAC, with another secret, from a non-member, stale or tampered are refused', () => {
  const now = Date.now();
  assert.equal(verifyAuth(SECRET, PEERS, new Metadata()), null);
  assert.equal(verifyAuth(SECRET, PEERS, authMetadata('another-secret-0123456789', 'b')), null);
  assert.equal(verifyAuth(SECRET, PEERS, authMetadata(SECRET, 'mallory')), null);
  assert.equal(verifyAuth(SECRET, PEERS, authMetadata(SECRET, 'b', now - 10 * 60_000), now), null);
  const md = authMetadata(SECRET, 'b');
  const [, at, mac] = String(md.get('chorus-peer-auth')[0]).split('.');
  const forged = new Metadata();
  forged.set('chorus-peer-auth', `a.${at}.${mac}`); // b's signature claiming to be a
  assert.equal(verifyAuth(SECRET, PEERS, forged), null);
});
