// The indexes beside the queue (src/domain/queue.ts) and the remembered command ids (recent.ts) must
// be invisible: a state answers every command exactly as the same state rebuilt from JSON (through
// a snapshot) does, whichever older state a command is applied to, and every lookup agrees with a
// scan of the queue.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  apply,
  findEntry,
  indexOfEntry,
  RECENT_COMMANDS_KEPT,
  type Envelope,
  type RoomState,
} from '../../../src/domain/index.ts';
import { durationBefore, entriesOf, findTrack } from '../../../src/domain/order.ts';
import { findRecent } from '../../../src/domain/recent.ts';
import { envelopesArb, fcParams } from './arbitraries.ts';
import { HOST, ROOM_ID, T0, viaSnapshot } from './helpers.ts';

function checkLookups(state: RoomState): void {
  const { queue } = state;
  queue.forEach((entry, i) => {
    assert.equal(findEntry(queue, entry.entryId), entry, `findEntry ${entry.entryId}`);
    assert.equal(findTrack(queue, entry.track.trackId), entry, `findTrack ${entry.track.trackId}`);
    assert.equal(indexOfEntry(queue, entry), i, `indexOfEntry ${entry.entryId}`);
    const mine = queue.filter((e) => e.addedBy === entry.addedBy).length;
    assert.equal(entriesOf(queue, entry.addedBy), mine, `entriesOf ${entry.addedBy}`);
  });
  // The sum of what plays first, or null once a track of unknown length (0) is among it.
  let ahead: number | null = 0;
  for (let k = 0; k <= queue.length; k++) {
    assert.equal(durationBefore(queue, k), ahead, `durationBefore ${k}`);
    const length = queue.at(k)?.track.durationMs ?? 0;
    ahead = ahead === null || (k < queue.length && length === 0) ? null : ahead + length;
  }
  for (const id of ['e-none', 'constructor', '__proto__']) assert.equal(findEntry(queue, id), undefined);
  assert.equal(findTrack(queue, 'no-such-track'), undefined);
  assert.equal(entriesOf(queue, 'nobody'), 0);
  for (const r of state.recent) assert.equal(findRecent(state.recent, r.commandId), r);
  assert.equal(findRecent(state.recent, 'no-such-command'), undefined);
}

void test('applying to any earlier state answers as that state rebuilt from JSON does', () => {
  fc.assert(
    fc.property(
      envelopesArb(80),
      fc.array(fc.nat(), { minLength: 80, maxLength: 80 }),
      (envelopes, branches) => {
        const states: (RoomState | null)[] = [null];
        envelopes.forEach((env, i) => {
          // Mostly the newest state (the live path); sometimes an older one, whose index was handed on.
          const pick = branches[i];
          const from = pick !== undefined && pick % 4 === 0 ? states[pick % states.length]! : states.at(-1)!;
          const out = apply(from, env);
          const fresh = apply(from === null ? null : viaSnapshot(from), env);
          assert.deepEqual(out, fresh, `command ${i} (${env.command?.type}) answers alike`);
          if (out.state) checkLookups(out.state);
          if (from) checkLookups(from);
          states.push(out.state);
        });
      },
    ),
    fcParams(200),
  );
});

void test('the remembered ids forget the oldest beyond the window, with or without an index', () => {
  const env = (n: number, command: Envelope['command'], actor: string | null = HOST): Envelope => ({
    commandId: `c${n}`,
    roomId: ROOM_ID,
    actor,
    at: T0 + n,
    command,
  });
  let state = apply(null, env(0, { type: 'createRoom', name: 'R', hostName: 'H' })).state!;
  const total = RECENT_COMMANDS_KEPT + 10;
  for (let n = 1; n < total; n++) {
    state = apply(state, env(n, { type: 'join', memberId: `m${n}`, name: `M${n}` }, null)).state!;
  }
  assert.equal(state.recent.length, RECENT_COMMANDS_KEPT);
  for (const s of [state, viaSnapshot(state)]) {
    assert.equal(findRecent(s.recent, 'c9'), undefined, 'forgotten');
    assert.equal(findRecent(s.recent, 'c10')?.commandId, 'c10', 'the oldest kept');
    assert.equal(findRecent(s.recent, `c${total - 1}`)?.commandId, `c${total - 1}`, 'the newest');
    // A retry of a forgotten join is a new command again: member m5 exists, so it is refused.
    const retried = apply(s, env(5, { type: 'join', memberId: 'm5', name: 'M5' }, null));
    assert.equal(retried.result.ok, false);
    // A retry inside the window answers as before and changes nothing.
    const again = apply(s, env(total - 1, { type: 'join', memberId: `m${total - 1}`, name: 'x' }, null));
    assert.deepEqual(again.result, { ok: true, value: { type: 'join', memberId: `m${total - 1}` } });
    assert.equal(again.state, s);
  }
});
