// The persistent structures (issue 21) against the implementation they replaced: on random command
// sequences, applied both to the newest state and to older ones (as the linearizability checker
// does when it backtracks), the new state machine gives exactly the states, events, answers and
// views the old one (test/oracle, plain arrays and copied maps) gives. States are compared as the
// JSON a snapshot writes, which is what a store keeps. Errors are compared by code: another change
// is rewording the messages in src/domain, and the oracle keeps the old words.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { apply, viewRoom, type ApplyOutput, type RoomState } from '../../../src/domain/index.ts';
import { apply as oracleApply } from '../../oracle/apply.ts';
import type {
  ApplyOutput as OracleOutput,
  Envelope as OracleEnvelope,
  RoomState as OracleState,
} from '../../oracle/types.ts';
import { viewRoom as oracleView } from '../../oracle/view.ts';
import { envelopesArb, fcParams } from './arbitraries.ts';
import { withoutRole } from './helpers.ts';
import { publicOutput } from '../../oracle/public.ts';

/**
 * The oracle predates presence and join control: what they added (settings, state and view
 * fields) is left out of the comparison; test/unit/domain/presence.test.ts and joining.test.ts
 * check it. The generated commands never reach a join limit (at most 80 joins, bursts of 120).
 */
const LATER_KEYS = new Set([
  'skipShare',
  'joinPolicy',
  'maxMembers',
  'joinsPerMinute',
  'joinAllowance',
  'present',
  'presentCount',
  'joinPending',
  'pendingJoins',
]);
function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) => (LATER_KEYS.has(key) ? undefined : v)) as T;
}

/**
 * What a client or a store sees of an output: plain JSON, errors by code, events and answers in
 * their public form (the oracle's whole entries and voteChanged voters mapped as the split maps them).
 */
function plain(out: ApplyOutput | OracleOutput): unknown {
  return viaJson(publicOutput(out));
}

function sameViews(s: RoomState, o: OracleState, now: number, offset: number, limit: number): void {
  for (const viewer of [null, 'host', 'm1', 'm2']) {
    assert.deepEqual(
      viaJson(withoutRole(viewRoom(s, { now, viewer, offset, limit }))),
      viaJson(oracleView(o, { now, viewer, offset, limit })),
      `view for ${viewer ?? 'nobody'} at offset ${offset}, limit ${limit}`,
    );
  }
  assert.deepEqual(viaJson(viewRoom(s, { now })), viaJson(oracleView(o, { now })), 'the whole view');
}

void test('the persistent room gives the same states, events, answers and views as the array room', () => {
  fc.assert(
    fc.property(
      envelopesArb(80),
      fc.array(fc.nat(), { maxLength: 80 }),
      fc.nat(10),
      fc.nat(10),
      (envelopes, branches, offset, limit) => {
        const states: (RoomState | null)[] = [null];
        const oracles: (OracleState | null)[] = [null];
        envelopes.forEach((env, i) => {
          // Mostly the newest state; sometimes an older one (a backtracking checker, a stale replica).
          const pick = branches[i];
          const k = pick !== undefined && pick % 3 === 0 ? pick % states.length : states.length - 1;
          const out = apply(states[k]!, env);
          // The arbitrary makes only commands the old code knows (no access commands).
          const expected = oracleApply(oracles[k]!, env as OracleEnvelope);
          assert.deepEqual(
            plain(out),
            plain(expected),
            `command ${i} (${env.command?.type}) from state ${k}`,
          );
          if (out.state && expected.state) sameViews(out.state, expected.state, env.at + 500, offset, limit);
          states.push(out.state);
          oracles.push(expected.state);
        });
      },
    ),
    fcParams(150),
  );
});
