// Issue 20: events do not tell anyone who voted which way. On random command sequences (members,
// the host, strangers, ids such as "constructor"), no event's JSON, and no answer's JSON, holds a
// voter map, a `voter` field, or a member's id as the key of a vote value; a vote's answer and the
// views still give each viewer their own vote.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { apply, viewRoom, type RoomState } from '../../../src/domain/index.ts';
import { envelopesArb, fcParams } from './arbitraries.ts';

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Why this JSON tells on a voter, or null. */
function leak(json: string, members: readonly string[]): string | null {
  if (/"votes"\s*:/.test(json)) return 'a voter map';
  if (/"voter"\s*:/.test(json)) return 'a voter field';
  if (/"value"\s*:\s*-?[01]\b/.test(json) && /"voteChanged"/.test(json)) return 'a vote value';
  for (const m of members) {
    if (new RegExp(`"${escape(JSON.stringify(m).slice(1, -1))}"\\s*:\\s*-?1\\b`).test(json)) {
      return `member ${m} next to a vote value`;
    }
  }
  return null;
}

void test('no event and no answer names who voted which way; views show each viewer their own', () => {
  fc.assert(
    fc.property(envelopesArb(80), (envelopes) => {
      let state: RoomState | null = null;
      for (const [i, env] of envelopes.entries()) {
        const out = apply(state, env);
        const members = out.state?.members.ids() ?? [];
        for (const event of out.events) {
          const why = leak(JSON.stringify(event), members);
          assert.equal(why, null, `step ${i}: ${event.type} event carries ${why}: ${JSON.stringify(event)}`);
        }
        if (out.result.ok) {
          const why = leak(JSON.stringify(out.result.value), members);
          assert.equal(why, null, `step ${i}: the ${out.result.value.type} answer carries ${why}`);
        }
        const command = env.command;
        if (out.state && out.events.some((e) => e.type === 'voteChanged') && command.type === 'vote') {
          // The voter still sees their own vote (views, per viewer) while the event said nothing of it.
          const s = out.state;
          const entry =
            s.nowPlaying?.entry.entryId === command.entryId
              ? s.nowPlaying.entry
              : s.queue.byEntry(command.entryId);
          const view = viewRoom(s, { now: env.at, viewer: env.actor });
          const seen =
            view.nowPlaying?.entryId === command.entryId
              ? view.nowPlaying.myVote
              : view.queue.find((q) => q.entryId === command.entryId)?.myVote;
          if (entry) assert.equal(seen, command.value, `step ${i}: the voter's own vote in their view`);
        }
        state = out.state;
      }
    }),
    fcParams(200),
  );
});

void test('the leak check itself finds a voter next to a vote value (it can fail)', () => {
  assert.equal(leak('{"type":"voteChanged","entryId":"e1","voter":"m1","value":1}', ['m1']), 'a voter field');
  assert.equal(leak('{"entry":{"entryId":"e1","votes":{"m1":1}}}', ['m1']), 'a voter map');
  assert.equal(leak('{"x":{"m2":-1}}', ['m1', 'm2']), 'member m2 next to a vote value');
  assert.equal(leak('{"type":"voteChanged","entryId":"e1","ups":1,"downs":0,"score":1}', ['m1']), null);
});
