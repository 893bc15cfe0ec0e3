// Bearer tokens and ids: what a node hands out must verify anywhere with the same secret, and
// nothing else may, however often a good token has been seen before (verified tokens are cached).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../../src/node/ids.ts';
import { parsePreviousSecrets, TokenSigner } from '../../../src/node/tokens.ts';

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

void test('rotation: tokens of a previous secret verify until its date, then never; new ones always', () => {
  let now = 1_000;
  const OLD = 'an-old-secret-0123456789';
  const oldToken = new TokenSigner(OLD).sign({ roomId: 'r', memberId: 'm_old' });
  const signer = new TokenSigner(SECRET, [{ secret: OLD, notAfter: 5_000 }], () => now);
  const fresh = signer.sign({ roomId: 'r', memberId: 'm_new' });
  assert.equal(new TokenSigner(SECRET).verify(fresh)?.memberId, 'm_new', 'signed with the newest secret');
  assert.equal(signer.verify(oldToken)?.memberId, 'm_old');
  assert.equal(signer.verify(oldToken)?.memberId, 'm_old', 'from the cache too');
  now = 4_999;
  assert.equal(signer.verify(oldToken)?.memberId, 'm_old');
  now = 5_000;
  assert.equal(signer.verify(oldToken), null, 'the cache does not outlive the grace');
  assert.equal(signer.verify(oldToken), null);
  assert.equal(signer.verify(fresh)?.memberId, 'm_new');
  // A secret never configured never verifies.
  assert.equal(
    signer.verify(new TokenSigner('another-secret-000000').sign({ roomId: 'r', memberId: 'x' })),
    null,
  );
});

void test('--previous-secret: SECRET@DATE or SECRET@MS, comma-separated; anything else is a problem', () => {
  const problems: string[] = [];
  assert.deepEqual(
    parsePreviousSecrets(
      'an-old-secret-0123456789@2030-01-01T00:00:00Z, second-old-secret-000@1700000000000',
      problems,
    ),
    [
      { secret: 'an-old-secret-0123456789', notAfter: Date.parse('2030-01-01T00:00:00Z') },
      { secret: 'second-old-secret-000', notAfter: 1_700_000_000_000 },
    ],
  );
  assert.deepEqual(problems, []);
  for (const bad of ['short@2030-01-01', 'an-old-secret-0123456789', 'an-old-secret-0123456789@someday']) {
    const found: string[] = [];
    assert.deepEqual(parsePreviousSecrets(bad, found), [], bad);
    assert.equal(found.length, 1, bad);
  }
});

void test('derive: the same label gives the same value; another label or secret another', () => {
  const a = new TokenSigner(SECRET);
  assert.equal(a.derive('recovery\0r\0k1', 24), a.derive('recovery\0r\0k1', 24));
  assert.equal(a.derive('recovery\0r\0k1', 24).length, 32);
  assert.notEqual(a.derive('recovery\0r\0k1', 24), a.derive('recovery\0r\0k2', 24));
  assert.notEqual(
    a.derive('recovery\0r\0k1', 24),
    new TokenSigner('another-secret-000000').derive('recovery\0r\0k1', 24),
  );
});
