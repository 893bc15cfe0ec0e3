// Random command sequences for the property and model tests: several members (and strangers, and
// the system clock) adding, voting, removing, advancing, changing settings, retrying earlier
// commands, and sending malformed commands and envelopes.
//
// fast-check generates a plan of abstract steps ("vote on the 2nd queued entry"); `toEnvelopes`
// turns it into concrete envelopes by following the room as it goes, so that most commands hit
// real entries. The envelopes are then fixed data every property replays as it likes.

import fc from 'fast-check';
import { apply, type Command, type Envelope, type RoomState, type Track } from '../../../src/domain/index.ts';
import { HOST, ROOM_ID, T0 } from './helpers.ts';

/** Reproduce a failure with FC_SEED=<seed> (and FC_PATH=<path>); FC_RUNS=<n> runs longer. */
export function fcParams(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env['FC_SEED'];
  const path = process.env['FC_PATH'];
  const runs = process.env['FC_RUNS'];
  return {
    numRuns: runs ? Number(runs) : numRuns,
    ...(seed ? { seed: Number(seed) } : {}),
    ...(path ? { path } : {}),
  };
}

/** Joined at the start; more may join later (and some try twice). */
const FIRST_MEMBERS = ['m1', 'm2', 'm3'];
const LATE_MEMBERS = ['m4', 'constructor'];
/** Mostly members; sometimes the host, a stranger, an id that is an Object.prototype key, or nobody. */
const ACTORS: readonly (string | null)[] = [
  ...[HOST, HOST, HOST, 'm1', 'm1', 'm1', 'm2', 'm2', 'm2', 'm3', 'm3'],
  ...['m4', 'constructor', 'stranger', null],
];
const TRACK_COUNT = 8;

/** Tracks 3 and 7 are of unknown length (durationMs 0): they play until skipped. */
export function trackNo(i: number): Track {
  const durationMs = i % 4 === 3 ? 0 : 1000 + i * 500;
  return { trackId: `t${i}`, title: `Song ${i}`, artist: 'Band', album: '', durationMs };
}

type EntryRef =
  | { readonly kind: 'queued'; readonly index: number }
  | { readonly kind: 'playing' }
  | { readonly kind: 'unknown' };

type Action =
  | { readonly kind: 'create'; readonly settings: unknown }
  | { readonly kind: 'join'; readonly memberId: string }
  | {
      readonly kind: 'add';
      readonly actor: string | null;
      readonly track: number;
      readonly reuseEntryId: boolean;
    }
  | { readonly kind: 'remove'; readonly actor: string | null; readonly ref: EntryRef }
  | {
      readonly kind: 'vote';
      readonly actor: string | null;
      readonly ref: EntryRef;
      readonly value: -1 | 0 | 1;
    }
  | { readonly kind: 'anon'; readonly actor: string | null; readonly ref: EntryRef; readonly value: -1 | 1 }
  | {
      readonly kind: 'advance';
      readonly actor: string | null;
      readonly expected: 'current' | EntryRef;
      readonly reason: 'finished' | 'skipped' | 'ended';
    }
  | { readonly kind: 'pause' | 'resume'; readonly actor: string | null }
  | { readonly kind: 'settings'; readonly actor: string | null; readonly patch: unknown }
  | { readonly kind: 'lock'; readonly actor: string | null; readonly locked: boolean }
  | { readonly kind: 'clear'; readonly actor: string | null }
  /** Replaces the queue (the legacy /sync): tracks by number, each with a net anonymous score. */
  | {
      readonly kind: 'replaceQueue';
      readonly actor: string | null;
      readonly tracks: readonly { readonly track: number; readonly votes: number }[];
    }
  | { readonly kind: 'malformed'; readonly actor: string | null; readonly command: unknown }
  | { readonly kind: 'badEnvelope'; readonly field: 'commandId' | 'at' | 'actor' }
  /** Sends an earlier envelope again, unchanged (a client or store retry). */
  | { readonly kind: 'retry'; readonly back: number }
  /** Sends a new command under an earlier command id. */
  | { readonly kind: 'reuseId'; readonly back: number; readonly action: Action };

export interface Step {
  readonly action: Action;
  /** Milliseconds the clock moves before this step. */
  readonly dt: number;
}

const actor = fc.constantFrom(...ACTORS);
const entryRef: fc.Arbitrary<EntryRef> = fc.oneof(
  { weight: 6, arbitrary: fc.nat(9).map((index) => ({ kind: 'queued' as const, index })) },
  { weight: 3, arbitrary: fc.constant({ kind: 'playing' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'unknown' as const }) },
);

/** Small settings, so that every limit and threshold is reached often. */
export const validSettings = fc.record(
  {
    public: fc.boolean(),
    autoplay: fc.boolean(),
    maxQueueLength: fc.integer({ min: 1, max: 6 }),
    maxEntriesPerMember: fc.integer({ min: 0, max: 3 }),
    maxTrackDurationMs: fc.integer({ min: 3000, max: 10_000 }),
    voteOffThreshold: fc.integer({ min: 0, max: 3 }),
    skipVotes: fc.integer({ min: 0, max: 3 }),
    replayProtectionMinutes: fc.integer({ min: 0, max: 1 }),
    historyRetention: fc.integer({ min: 1, max: 5 }),
  },
  { requiredKeys: [] },
);

const invalidSettings = fc.constantFrom<unknown>(
  { maxQueueLength: 0 },
  { skipVotes: 1.5 },
  { historyRetention: 'many' },
  { autoplay: 'no' },
  { volume: 11 },
  null,
  [],
);

const settingsPatch = fc.oneof(
  { weight: 5, arbitrary: validSettings },
  { weight: 1, arbitrary: invalidSettings },
);

const malformedCommand = fc.constantFrom<unknown>(
  { type: 'vote', entryId: 'e1', value: 2 },
  { type: 'vote', entryId: '', value: 1 },
  { type: 'anonymousVote', entryId: 'e1', value: 0 },
  { type: 'addTrack', entryId: 'bad id', track: trackNo(1) },
  { type: 'addTrack', entryId: 'fresh', track: { ...trackNo(1), durationMs: -1 } },
  { type: 'replaceQueue', entries: [{ entryId: 'fresh', track: trackNo(1), votes: 0.5 }] },
  { type: 'replaceQueue', entries: 'all of them' },
  { type: 'addTrack', entryId: 'fresh', track: { ...trackNo(1), title: ' ' } },
  { type: 'addTrack', entryId: 'fresh', track: null },
  { type: 'removeEntry', entryId: 42 },
  { type: 'advance', expectedEntryId: null, reason: 'later' },
  { type: 'advance', expectedEntryId: '', reason: 'skipped' },
  { type: 'setLocked', locked: 'yes' },
  { type: 'join', memberId: 'bad id', name: 'X' },
  { type: 'join', memberId: 'm9', name: '' },
  { type: 'createRoom', name: 'Again', hostName: 'H' },
  { type: 'dance' },
);

function action(depth: number): fc.Arbitrary<Action> {
  const arbs: fc.WeightedArbitrary<Action>[] = [
    {
      weight: 25,
      arbitrary: fc.record({
        kind: fc.constant('add'),
        actor,
        track: fc.nat(TRACK_COUNT - 1),
        reuseEntryId: fc.nat(7).map((n) => n === 0),
      }),
    },
    {
      weight: 25,
      arbitrary: fc.record({
        kind: fc.constant('vote'),
        actor,
        ref: entryRef,
        value: fc.constantFrom(-1, 0, 1),
      }),
    },
    {
      weight: 20,
      arbitrary: fc.record({
        kind: fc.constant('advance'),
        actor,
        expected: fc.oneof(
          { weight: 4, arbitrary: fc.constant('current' as const) },
          { weight: 1, arbitrary: entryRef },
        ),
        reason: fc.constantFrom('finished', 'finished', 'skipped', 'ended'),
      }),
    },
    { weight: 10, arbitrary: fc.record({ kind: fc.constant('remove'), actor, ref: entryRef }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('anon'),
        actor,
        ref: entryRef,
        value: fc.constantFrom(-1, 1),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('join'),
        memberId: fc.constantFrom(...FIRST_MEMBERS, ...LATE_MEMBERS, HOST),
      }),
    },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('settings'), actor, patch: settingsPatch }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('lock'), actor, locked: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear'), actor }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('replaceQueue'),
        actor,
        tracks: fc.array(
          fc.record({ track: fc.nat(TRACK_COUNT - 1), votes: fc.integer({ min: -3, max: 3 }) }),
          {
            maxLength: 5,
          },
        ),
      }),
    },
    {
      // Mostly the host (the only one allowed), so pauses and resumes happen often enough to matter.
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constantFrom('pause', 'resume'),
        actor: fc.oneof({ weight: 3, arbitrary: fc.constant(HOST) }, { weight: 1, arbitrary: actor }),
      }),
    },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('malformed'), actor, command: malformedCommand }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('badEnvelope'),
        field: fc.constantFrom('commandId', 'at', 'actor'),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('create'), settings: settingsPatch }) },
  ];
  if (depth === 0) {
    arbs.push(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('retry'), back: fc.nat() }) },
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('reuseId'), back: fc.nat(), action: action(1) }),
      },
    );
  }
  return fc.oneof(...arbs);
}

const dt = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1500 }), fc.integer({ min: 1500, max: 7000 }));
const step: fc.Arbitrary<Step> = fc.record({ action: action(0), dt });

/**
 * A sequence: maybe a command or two before the room exists, the room created (now and then with
 * settings that are refused), three members joining, then random steps.
 */
export function stepsArb(maxSteps = 60): fc.Arbitrary<Step[]> {
  return fc
    .tuple(
      fc.array(step, { maxLength: 2 }),
      fc.oneof({ weight: 30, arbitrary: validSettings }, { weight: 1, arbitrary: invalidSettings }),
      fc.array(step, { maxLength: maxSteps, size: 'max' }),
    )
    .map(([before, settings, after]) => [
      ...before,
      { action: { kind: 'create', settings }, dt: 0 },
      ...FIRST_MEMBERS.map((memberId): Step => ({ action: { kind: 'join', memberId }, dt: 0 })),
      ...after,
    ]);
}

/** Turns a plan into envelopes, following the room (with the real `apply`) to aim at real entries. */
export function toEnvelopes(steps: readonly Step[]): Envelope[] {
  const envelopes: Envelope[] = [];
  let state: RoomState | null = null;
  let at = T0;
  steps.forEach((s, i) => {
    at += s.dt;
    const env = envelopeFor(s.action, i, at, state, envelopes);
    envelopes.push(env);
    state = apply(state, env).state;
  });
  return envelopes;
}

function envelopeFor(
  a: Action,
  i: number,
  at: number,
  state: RoomState | null,
  earlier: readonly Envelope[],
): Envelope {
  const base = { commandId: `c${i}`, roomId: ROOM_ID, at };
  switch (a.kind) {
    case 'retry':
      return earlier.length === 0
        ? { ...base, actor: null, command: { type: 'clear' } }
        : earlier[a.back % earlier.length]!;
    case 'reuseId': {
      const env = envelopeFor(a.action, i, at, state, earlier);
      return earlier.length === 0 ? env : { ...env, commandId: earlier[a.back % earlier.length]!.commandId };
    }
    case 'badEnvelope': {
      const env: Envelope = { ...base, actor: HOST, command: { type: 'setLocked', locked: true } };
      if (a.field === 'commandId') return { ...env, commandId: 'not an id' };
      if (a.field === 'at') return { ...env, at: -1 };
      return { ...env, actor: '' };
    }
    case 'create':
      return {
        ...base,
        actor: HOST,
        command: { type: 'createRoom', name: 'Room', hostName: 'Host', settings: a.settings } as Command,
      };
    case 'join':
      return {
        ...base,
        actor: null,
        command: { type: 'join', memberId: a.memberId, name: `Name ${a.memberId}` },
      };
    default:
      return { ...base, actor: a.actor, command: commandFor(a, i, state) };
  }
}

function resolve(ref: EntryRef, state: RoomState | null): string {
  const playing = state?.nowPlaying?.entry.entryId;
  if (ref.kind === 'unknown') return 'e-unknown';
  if (ref.kind === 'playing' || !state || state.queue.length === 0) return playing ?? 'e-none';
  return state.queue.at(ref.index % state.queue.length)!.entryId;
}

function commandFor(a: Action, i: number, state: RoomState | null): Command {
  switch (a.kind) {
    case 'add': {
      // Mostly a fresh entry id; sometimes one already in use.
      const inUse = state?.nowPlaying?.entry.entryId ?? state?.queue.at(0)?.entryId;
      const entryId = a.reuseEntryId && inUse ? inUse : `e${i}`;
      return { type: 'addTrack', entryId, track: trackNo(a.track) };
    }
    case 'remove':
      return { type: 'removeEntry', entryId: resolve(a.ref, state) };
    case 'vote':
      return { type: 'vote', entryId: resolve(a.ref, state), value: a.value };
    case 'anon':
      return { type: 'anonymousVote', entryId: resolve(a.ref, state), value: a.value };
    case 'advance': {
      const expectedEntryId =
        a.expected === 'current' ? (state?.nowPlaying?.entry.entryId ?? null) : resolve(a.expected, state);
      return { type: 'advance', expectedEntryId, reason: a.reason };
    }
    case 'settings':
      return { type: 'updateSettings', patch: a.patch } as Command;
    case 'lock':
      return { type: 'setLocked', locked: a.locked };
    case 'clear':
      return { type: 'clear' };
    case 'replaceQueue':
      return {
        type: 'replaceQueue',
        entries: a.tracks.map((t, k) => ({ entryId: `e${i}-${k}`, track: trackNo(t.track), votes: t.votes })),
      };
    case 'pause':
    case 'resume':
      return { type: a.kind };
    case 'malformed':
      return a.command as Command;
    default:
      throw new Error(`not a plain command: ${a.kind}`);
  }
}

/** Envelopes for a random sequence, ready to replay. */
export const envelopesArb = (maxSteps?: number): fc.Arbitrary<Envelope[]> =>
  stepsArb(maxSteps).map(toEnvelopes);
