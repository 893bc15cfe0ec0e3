// A room snapshot written by the state machine before its structures became persistent (issue 21;
// test/fixtures/room-snapshot-v1.json, written by test/fixtures/make-room-snapshot.ts with the old
// code kept in test/oracle) loads today, is written back byte for byte (the format did not change),
// and carries on exactly as the old code carries on from it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  apply,
  restore,
  snapshot,
  viewRoom,
  type Command,
  type Envelope,
} from '../../../src/domain/index.ts';
import { LEGACY_SETTINGS } from '../../../src/domain/settings.ts';
import { apply as oracleApply } from '../../oracle/apply.ts';
import type { RoomSnapshot as OracleSnapshot } from '../../oracle/snapshot.ts';
import type { Envelope as OracleEnvelope, RoomState as OracleState } from '../../oracle/types.ts';
import { viewRoom as oracleView } from '../../oracle/view.ts';
import { FIXTURE, HOST, MEMBERS, ROOM } from '../../fixtures/make-room-snapshot.ts';
import { fcParams } from './arbitraries.ts';
import { viaJson, withoutRole } from './helpers.ts';
import { publicOutput } from '../../oracle/public.ts';

const text = readFileSync(FIXTURE, 'utf8');

void test('a snapshot written before the persistent structures loads, and is written back byte for byte', () => {
  const state = restore(JSON.parse(text));
  assert.equal(state.queue.length, 61);
  assert.equal(`${JSON.stringify(snapshot(state), null, 1)}\n`, text);
  const old = (JSON.parse(text) as OracleSnapshot).state;
  // What presence and join control added: nobody present, nobody waiting, the settings as such a
  // room behaves (no share, open, no cap, no room-wide join rate).
  const { present, presentCount, joinPending, pendingJoins, settings, ...rest } = viewRoom(state, {
    now: old.createdAt,
    viewer: 'm1',
  });
  assert.deepEqual(
    { present, presentCount, joinPending, pendingJoins },
    {
      present: [],
      presentCount: 0,
      joinPending: false,
      pendingJoins: [],
    },
  );
  assert.deepEqual(settings, { ...old.settings, ...LEGACY_SETTINGS });
  assert.deepEqual(
    withoutRole({ ...rest, settings: old.settings }),
    viaJson(oracleView(old, { now: old.createdAt, viewer: 'm1' })),
  );
});

const actor = fc.constantFrom<string | null>(HOST, ...MEMBERS, null);
const entryId = fc.nat(80).map((i) => `e${i}`);
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    type: fc.constant('vote' as const),
    entryId,
    value: fc.constantFrom(-1 as const, 0 as const, 1 as const),
  }),
  fc.record({
    type: fc.constant('anonymousVote' as const),
    entryId,
    value: fc.constantFrom(-1 as const, 1 as const),
  }),
  fc.record({ type: fc.constant('removeEntry' as const), entryId }),
  fc.nat(90).map((i) => ({
    type: 'addTrack' as const,
    entryId: `n${i}`,
    track: { trackId: `t${i}`, title: `T${i}`, artist: '', album: '', durationMs: (i % 5) * 60_000 },
  })),
  fc.constantFrom<Command>({ type: 'resume' }, { type: 'pause' }, { type: 'setLocked', locked: true }),
  fc.constant<Command>({ type: 'advance', expectedEntryId: null, reason: 'skipped' }),
);

void test('from the old snapshot, the persistent room answers every later command as the old code does', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(commandArb, actor, fc.boolean()), { maxLength: 40 }), (steps) => {
      const parsed = JSON.parse(text) as OracleSnapshot;
      let old: OracleState | null = parsed.state;
      let state = restore(JSON.parse(text));
      steps.forEach(([command, who, retry], i) => {
        // An advance names the entry playing now, or the command would be a no-op every time.
        const cmd: Command =
          command.type === 'advance'
            ? { ...command, expectedEntryId: old?.nowPlaying?.entry.entryId ?? null }
            : command;
        // A retry reuses a command id the snapshot remembers.
        const env: Envelope = {
          commandId: retry && i % 4 === 0 ? `fx-${200 + i}` : `later-${i}`,
          roomId: ROOM,
          actor: who,
          at: 1_770_000_000_000 + i * 1000,
          command: cmd,
        };
        const out = apply(state, env);
        // Only commands the old code knows (no access commands).
        const expected = oracleApply(old, env as OracleEnvelope);
        // Events and answers compared in their public form (no voter maps, no voter in voteChanged).
        assert.deepEqual(publicOutput(out), publicOutput(expected), `command ${i} (${cmd.type})`);
        state = out.state!;
        old = expected.state;
      });
    }),
    fcParams(100),
  );
});
