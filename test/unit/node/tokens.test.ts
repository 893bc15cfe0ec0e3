// Bearer tokens and ids: what a node hands out must verify anywhere with the same secret, and
// nothing else may, however often a good token has been seen before (verified tokens are cached).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../../src/node/ids.ts';
import { TokenSigner } from '../../../src/node/tokens.ts';

const SECRET = 'a-secret-of-sixteen-chars';

void test('a signed token verifies, on this signer and on another with the same secret', () => {
  const token = new TokenSigner(SECRET).sign({ roomId: 'r1', memberId: 'm_1' });
  for (const signer of [new TokenSigner(SECRET), new TokenSigner(SECRET)]) {
    assert.deepEqual(signer.verify(token), { roomId: 'r1', memberId: 'm_1' });
    assert.deepEqual(signer.verify(token), { roomId: 'r1', memberId: 'm_1' }, 'again, from the cache');
  }
  assert.equal(new TokenSigner('another-secret-of-16').verify(token), null);
});

void test('a tampered token is refused even after the good one was verified', () => {
  const signer = new TokenSigner(SECRET);
  const token = signer.sign({ roomId: 'r1', memberId: 'm_1' });
  assert.ok(signer.verify(token));
  const [prefix, , mac] = token.split('.');
  const forged = `${prefix}.${Buffer.from(JSON.stringify({ r: 'r1', m: 'm_host' })).toString('base64url')}.${mac}`;
  for (const bad of [
    forged,
    `${token}x`,
    token.slice(0, -1),
    '',
    'v1..',
    'v2.a.b',
    token.replace('v1.', 'v0.'),
  ]) {
    assert.equal(signer.verify(bad), null, bad);
    assert.equal(signer.verify(bad), null, `${bad} (twice)`);
  }
});

void test('verifying more tokens than the cache keeps still answers each one right', () => {
  const signer = new TokenSigner(SECRET);
  const tokens = Array.from({ length: 12_000 }, (_, i) => signer.sign({ roomId: 'r', memberId: `m${i}` }));
  for (const [i, token] of tokens.entries()) assert.equal(signer.verify(token)?.memberId, `m${i}`);
  for (const [i, token] of tokens.entries()) assert.equal(signer.verify(token)?.memberId, `m${i}`);
});

void test('ids are distinct and well-formed across many refills of the random pool', () => {
  const ids = Array.from({ length: 5000 }, () => newId('e'));
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, /^e_[A-Za-z0-9_-]{12}$/);
});
