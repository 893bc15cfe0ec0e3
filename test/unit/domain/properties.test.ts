// Properties of `apply` over random command sequences from several members, valid and not.
// On failure fast-check prints the seed and path; rerun with FC_SEED=… FC_PATH=… to reproduce.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  apply,
  RECENT_COMMANDS_KEPT,
  restore,
  snapshot,
  viewRoom,
  type ApplyOutput,
  type CommandResult,
  type Envelope,
  type QueueEntry,
  type RoomState,
} from '../../../src/domain/index.ts';
import { envelopesArb, fcParams } from './arbitraries.ts';
import { deepFreeze, viaJson } from './helpers.ts';

/** Applies envelopes from `state`, returning every output. */
function run(state: RoomState | null, envelopes: readonly Envelope[]): ApplyOutput[] {
  const outs: ApplyOutput[] = [];
  for (const env of envelopes) {
    const out = apply(state, env);
    outs.push(out);
    state = out.state;
  }
  return outs;
}

function finalState(state: RoomState | null, envelopes: readonly Envelope[]): RoomState | null {
  return run(state, envelopes).at(-1)?.state ?? state;
}

const changed = (out: ApplyOutput): boolean => out.result.ok && out.events.length > 0;

function checkEntry(entry: QueueEntry, where: string): void {
  const votes = entry.votes.entries();
  const values = votes.map(([, v]) => v);
  assert.ok(
    values.every((v) => v === 1 || v === -1),
    `${where}: votes are +1 or -1`,
  );
  // Anonymous votes are counts beside the members' votes, never voter keys.
  assert.ok(
    votes.every(([k]) => !k.startsWith('~')),
    `${where}: no anonymous voter keys`,
  );
  const anonymousUps = entry.anonymousUps ?? 0;
  const anonymousDowns = entry.anonymousDowns ?? 0;
  assert.equal(
    entry.ups,
    values.filter((v) => v === 1).length + anonymousUps,
    `${where}: ups match the votes`,
  );
  assert.equal(
    entry.downs,
    values.filter((v) => v === -1).length + anonymousDowns,
    `${where}: downs match the votes`,
  );
}

/** Everything that must hold of any room the state machine produces. */
function checkInvariants(s: RoomState, at: number): void {
  for (let i = 1; i < s.queue.length; i++) {
    const [a, b] = [s.queue.at(i - 1)!, s.queue.at(i)!];
    const [sa, sb] = [a.ups - a.downs, b.ups - b.downs];
    assert.ok(
      sa > sb || (sa === sb && a.seq < b.seq),
      `queue sorted at ${i}: ${a.entryId} before ${b.entryId}`,
    );
  }
  s.queue.forEach((e) => checkEntry(e, `queued ${e.entryId}`));
  if (s.nowPlaying) checkEntry(s.nowPlaying.entry, `playing ${s.nowPlaying.entry.entryId}`);

  const view = viewRoom(s, { now: at });
  view.queue.forEach((item, i) => {
    assert.equal(item.score, item.ups - item.downs);
    assert.equal(item.position, i + 1);
  });

  const all = [...s.queue, ...(s.nowPlaying ? [s.nowPlaying.entry] : [])];
  const ids = all.map((e) => e.entryId);
  assert.equal(new Set(ids).size, ids.length, `entry ids unique: ${ids.join(',')}`);
  const tracks = all.map((e) => e.track.trackId);
  assert.equal(new Set(tracks).size, tracks.length, `no track twice: ${tracks.join(',')}`);
  const seqs = all.map((e) => e.seq);
  assert.equal(new Set(seqs).size, seqs.length, 'insertion sequences unique');
  assert.ok(
    seqs.every((q) => q < s.nextSeq),
    'every seq below nextSeq',
  );

  if (s.settings.autoplay && s.nowPlaying === null) {
    assert.equal(s.queue.length, 0, 'with autoplay, a room is never idle while tracks wait');
  }

  assert.ok(s.history.length <= s.settings.historyRetention, 'history within retention');
  s.history.forEach((r, i) => {
    if (i > 0) assert.ok(r.playNo > s.history[i - 1]!.playNo, 'history oldest first');
    assert.ok(r.playNo <= s.playCount);
    // A track of unknown length (0) ends whenever it is cut, or when a playing device reports its
    // end (recorded as 'finished'); the clock never finishes it (playback.test.ts).
    assert.ok(
      r.startedAt <= r.endedAt && (r.track.durationMs === 0 || r.endedAt <= r.startedAt + r.track.durationMs),
      'ended within the track',
    );
  });

  assert.ok(s.recent.length <= RECENT_COMMANDS_KEPT);
  assert.equal(new Set(s.recent.map((r) => r.commandId)).size, s.recent.length, 'recent ids unique');
}

void describe('apply over random command sequences', () => {
  void test('invariants hold after every step; apply never throws, never mutates its input; versions count changes', () => {
    fc.assert(
      fc.property(envelopesArb(), (envelopes) => {
        let state: RoomState | null = null;
        envelopes.forEach((env, i) => {
          const input = deepFreeze(state);
          deepFreeze(env);
          let out: ApplyOutput;
          try {
            out = apply(input, env);
          } catch (err) {
            assert.fail(`apply threw at step ${i} (${JSON.stringify(env)}): ${String(err)}`);
          }
          const before = input?.version ?? 0;
          if (changed(out)) {
            assert.ok(out.state && out.state !== input);
            assert.equal(
              out.state.version,
              before + 1,
              `step ${i}: a change adds exactly one to the version`,
            );
            for (const e of out.events)
              assert.deepEqual([e.version, e.roomId, e.at], [before + 1, env.roomId, env.at]);
          } else {
            assert.equal(out.state, input, `step ${i}: no events, no change (${JSON.stringify(out.result)})`);
            assert.deepEqual(out.events, []);
          }
          if (!out.result.ok) assert.ok(out.result.error.message.length > 0);
          if (out.state) checkInvariants(out.state, env.at);
          state = out.state;
        });
      }),
      fcParams(200),
    );
  });

  void test('replaying the same envelopes from nothing gives the same outputs and room', () => {
    fc.assert(
      fc.property(envelopesArb(), (envelopes) => {
        const first = run(null, envelopes);
        const second = run(null, structuredClone(envelopes));
        assert.deepEqual(second, first);
      }),
      fcParams(100),
    );
  });

  void test('a snapshot at any point, through JSON, restored and fed the rest, equals the whole replay', () => {
    fc.assert(
      fc.property(
        envelopesArb().chain((envs) => fc.tuple(fc.constant(envs), fc.nat(envs.length))),
        ([envelopes, k]) => {
          const whole = run(null, envelopes);
          const atK = finalState(null, envelopes.slice(0, k));
          const restored = atK === null ? null : restore(viaJson(snapshot(atK)));
          assert.deepEqual(restored, atK);
          const rest = run(restored, envelopes.slice(k));
          // Same answers for every later command, and the same room at the end.
          assert.deepEqual(
            rest.map((o) => [o.result, o.events]),
            whole.slice(k).map((o) => [o.result, o.events]),
          );
          assert.deepEqual(rest.at(-1)?.state ?? restored, whole.at(-1)?.state ?? null);
        },
      ),
      fcParams(100),
    );
  });

  void test('re-applying an envelope already applied changes nothing and answers as before', () => {
    fc.assert(
      fc.property(envelopesArb(), (envelopes) => {
        let state: RoomState | null = null;
        const firstChange = new Map<string, { env: Envelope; result: CommandResult }>();
        envelopes.forEach((env, i) => {
          const out = apply(state, env);
          // At once (a duplicate delivery): nothing changes.
          const again = apply(out.state, env);
          assert.equal(again.state, out.state, `step ${i}: immediate re-apply changed the room`);
          assert.deepEqual(again.events, []);
          if (changed(out)) assert.deepEqual(again.result, out.result);
          if (changed(out) && !firstChange.has(env.commandId))
            firstChange.set(env.commandId, { env, result: out.result });
          state = out.state;
          // Later (a retry): every command id that changed the room is answered from memory.
          for (const [commandId, { env: earlier, result }] of firstChange) {
            const retry = apply(state, earlier);
            assert.equal(retry.state, state, `step ${i}: retry of ${commandId} changed the room`);
            assert.deepEqual(retry.result, result, `step ${i}: retry of ${commandId} answered differently`);
          }
        });
      }),
      fcParams(100),
    );
  });
});
