// The CLI's own refusals (src/cli/errors.ts): each makes a well-formed ChorusError naming its
// reason, none shares a name with the node's registry, and the advice after a node's refusal is
// chosen by its reason, whether it came from REST (details.reason) or was rebuilt with it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChorusError, chorusError, isErrorCode, REASONS } from '../../../src/domain/index.ts';
import { CLI_REASONS, cliError, hint, received, type CliReason } from '../../../src/cli/errors.ts';
import { renderMembers } from '../../../src/cli/render.ts';

/** Arguments for any template: every field reads as its own name. */
const SAMPLE = new Proxy({}, { get: (_t, key) => (typeof key === 'string' ? key : undefined) });

void test('every CLI reason makes a well-formed error that names it, apart from the registry', () => {
  for (const name of Object.keys(CLI_REASONS) as CliReason[]) {
    const err = (cliError as (n: CliReason, a: unknown) => ChorusError)(name, SAMPLE);
    assert.ok(err instanceof ChorusError);
    assert.ok(isErrorCode(err.code), `${name}: ${err.code}`);
    assert.equal(err.reason, name);
    assert.ok(err.message.length > 0 && !err.message.includes('undefined'), `${name}: "${err.message}"`);
    assert.ok(!(name in REASONS), `${name} is also a registry reason`);
  }
});

void test('advice follows the reason of a refusal, however it arrived', () => {
  const overRest = received('PERMISSION_DENIED', 'you are banned from room r', {
    reason: 'MEMBER_BANNED',
    roomId: 'r',
  });
  assert.match(hint(overRest, 'r', '') ?? '', /banned this identity/);
  const rebuilt = chorusError('NOT_A_MEMBER', { roomId: 'party' });
  assert.match(hint(rebuilt, 'party', ' --as bob') ?? '', /chorus join party NAME --as bob --replace/);
  assert.match(hint(chorusError('TOKEN_INVALID'), 'party', '') ?? '', /chorus recover party --key/);
  assert.match(hint(chorusError('RECOVERY_KEY_RETIRED'), 'party', '') ?? '', /chorus recovery-key party/);
  assert.equal(hint(chorusError('QUEUE_FULL', { maxQueueLength: 3 }), 'party', ''), null);
  assert.equal(hint(new ChorusError('INTERNAL', 'no reason'), 'party', ''), null);
});

void test('members show as a table with who is present, then the banned', () => {
  const at = new Date(2026, 11, 3, 21, 4).getTime();
  const out = renderMembers(
    {
      members: [
        { memberId: 'm_a', name: 'Ann', role: 'host', joinedAt: at },
        { memberId: 'm_bobby', name: 'Bob', role: 'cohost', joinedAt: at },
      ],
      banned: [{ memberId: 'm_c', name: 'Cat', at }],
      present: ['m_bobby'],
      version: 7,
    },
    at + 30_000,
  );
  assert.equal(
    out,
    [
      'NAME  ROLE    PRESENT  JOINED            ID',
      'Ann   host    no       21:04 (just now)  m_a',
      'Bob   cohost  yes      21:04 (just now)  m_bobby',
      '',
      'banned: Cat since 21:04 (just now)',
    ].join('\n'),
  );
});
