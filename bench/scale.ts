// `npm run bench -- --scale` (or `npx node bench/scale.ts`): what one command costs the state machine
// as a room grows (issue 21), now and as it was before its structures became persistent (the old
// implementation, kept as the test oracle in test/oracle, measured in the same run on the same
// rooms). Two curves:
// - against queue length (10 → 100,000 entries, 50 members): an add, a member's vote and a legacy
//   (anonymous) vote;
// - against voters per entry (10 → 100,000 votes on one entry of a 100-entry queue): one more
//   member vote on that entry;
// - against members (100 → 20,000 members, issue 23's join flood): one more join.
// Each figure is the mean CPU per command over chains of commands, each applied in a chain from the same
// room (the room grows by the batch's adds; votes alternate so that every one changes the room).
// Writes bench/results/<date>-scale.{md,json} and one PNG per curve. A benchmark: nothing here
// passes or fails on time (test/bench/scale.test.ts runs it small).
//
//   npx node bench/scale.ts [--max 100000] [--out bench/results]

import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  apply,
  restore,
  snapshot,
  type ApplyOutput,
  type Command,
  type Envelope,
  type RoomState,
} from '../src/domain/index.ts';
import { prng } from '../src/prng.ts';
import { apply as oldApply } from '../test/oracle/apply.ts';
// The envelopes measured are of commands the old code knows (no access commands).
import type { Envelope as OldEnvelope, RoomState as OldState } from '../test/oracle/types.ts';
import { render } from './lib/figures.ts';

const ROOM = 'bench-scale';
const HOST = 'scale-host';
const MEMBERS = Array.from({ length: 50 }, (_, i) => `m${i}`);
const T0 = 1_800_000_000_000;
const BATCH = 100;
const BATCHES = 11;
/** The old way costs up to milliseconds a command at 100,000: fewer commands are timed there. */
const oldBatch = (n: number) => Math.max(5, Math.min(BATCH, Math.floor(200_000 / n)));

type Impl = 'now' | 'before';
type AnyState = RoomState | OldState;

let seq = 0;
function envelope(command: Command, actor: string | null): Envelope {
  seq += 1;
  return { commandId: `c${seq}`, roomId: ROOM, actor, at: T0 + seq, command };
}

function applyWith(impl: Impl, state: AnyState | null, env: Envelope): AnyState {
  const out: ApplyOutput | ReturnType<typeof oldApply> =
    impl === 'now'
      ? apply(state as RoomState | null, env)
      : oldApply(state as OldState | null, env as OldEnvelope);
  if (!out.result.ok) throw new Error(`${env.command.type}: ${out.result.error.message}`);
  return out.state!;
}

/** The same room for the old code: its snapshot JSON as the old code reads it (plain arrays). */
function asOld(state: RoomState): OldState {
  return (JSON.parse(JSON.stringify(snapshot(state))) as { state: OldState }).state;
}

const track = (i: number) => ({
  trackId: `t${i}`,
  title: `Song ${i}`,
  artist: `Band ${i % 97}`,
  album: '',
  durationMs: 120_000 + (i % 120) * 1000,
});

/** A room of `length` queued entries with 50 members who have voted on some of them. */
function roomOf(length: number, random: () => number): RoomState {
  let state = applyWith(
    'now',
    null,
    envelope(
      {
        type: 'createRoom',
        name: 'Scale',
        hostName: 'Host',
        settings: {
          autoplay: false,
          maxQueueLength: 1_000_000,
          maxEntriesPerMember: 0,
          voteOffThreshold: 0,
          skipVotes: 0,
        },
      },
      HOST,
    ),
  ) as RoomState;
  for (const m of MEMBERS)
    state = applyWith('now', state, envelope({ type: 'join', memberId: m, name: m }, null)) as RoomState;
  for (let i = 0; i < length; i++) {
    const member = MEMBERS[i % MEMBERS.length]!;
    state = applyWith(
      'now',
      state,
      envelope({ type: 'addTrack', entryId: `e${i}`, track: track(i) }, member),
    ) as RoomState;
  }
  // Some votes, so entries have scores and the order is not just the insertion order.
  for (let i = 0; i < Math.min(length, 2000); i++) {
    const entryId = `e${Math.floor(random() * length)}`;
    const member = MEMBERS[Math.floor(random() * MEMBERS.length)]!;
    state = applyWith(
      'now',
      state,
      envelope({ type: 'vote', entryId, value: random() < 0.7 ? 1 : -1 }, member),
    ) as RoomState;
  }
  return state;
}

/**
 * A full collection, so that the garbage of building a room (or of the old code's copies) is not
 * marked during the next series and charged to its commands. `--expose-gc` set at run time: the
 * bench runs inside `npm run bench`, whose node is started without it.
 */
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;

/** CPU time a series must add up to before its mean is taken (the thread clock ticks coarsely). */
const MIN_CPU_US = 100_000;
/** At most this many chains per series (bounds the run when commands are very cheap). */
const MAX_CHAINS = 2_000;

/**
 * Mean µs of CPU per command over chains of `batch` commands, each chain from `start`: at least
 * `batches` chains, and more, in groups, until they add up to MIN_CPU_US of CPU. CPU time of this
 * thread (process.threadCpuUsage), not wall time: on the shared machine a chain of a few hundred
 * µs is often descheduled, and that wait would be charged to its commands; the thread's clock
 * advances in ticks, hence whole groups of chains are timed at once.
 */
function time(
  impl: Impl,
  start: AnyState,
  next: (i: number) => [Command, string | null],
  batch: number,
  batches = BATCHES,
): number {
  let k = 0;
  let cpuUs = 0;
  let commands = 0;
  collect();
  for (let chains = 0; chains < MAX_CHAINS && (chains < batches || cpuUs < MIN_CPU_US);) {
    const group = chains < batches ? batches : Math.min(batches, MAX_CHAINS - chains);
    // The envelopes are made before the clock starts: only apply is timed.
    const envs = Array.from({ length: group }, () =>
      Array.from({ length: batch }, () => {
        const [command, actor] = next(k++);
        return envelope(command, actor);
      }),
    );
    const t = process.threadCpuUsage();
    for (const chain of envs) {
      let state = start;
      for (const env of chain) state = applyWith(impl, state, env);
    }
    const used = process.threadCpuUsage(t);
    cpuUs += used.user + used.system;
    commands += group * batch;
    chains += group;
  }
  return cpuUs / commands;
}

interface QueueRow {
  readonly length: number;
  readonly impl: Impl;
  readonly addUs: number;
  readonly voteUs: number;
  readonly legacyVoteUs: number;
}

interface JoinRow {
  readonly members: number;
  readonly impl: Impl;
  readonly joinUs: number;
}

interface VoterRow {
  readonly voters: number;
  readonly impl: Impl;
  readonly voteUs: number;
}

function queueCurve(lengths: readonly number[]): QueueRow[] {
  const rows: QueueRow[] = [];
  for (const length of lengths) {
    const random = prng(length);
    const now = roomOf(length, random);
    const rooms: Record<Impl, AnyState> = { now, before: asOld(now) };
    for (const impl of ['now', 'before'] as const) {
      const batch = impl === 'now' ? BATCH : oldBatch(length);
      const start = rooms[impl];
      let added = 0;
      const addUs = time(
        impl,
        start,
        () => {
          added += 1;
          return [
            { type: 'addTrack', entryId: `x${added}`, track: track(length + added) },
            MEMBERS[added % 50]!,
          ];
        },
        batch,
      );
      // Each member votes on a random entry, up or down by turns, so every vote changes the room.
      const voteUs = time(
        impl,
        start,
        (i) => {
          const entryId = `e${Math.floor(random() * length)}`;
          return [{ type: 'vote', entryId, value: i % 2 === 0 ? 1 : -1 }, MEMBERS[i % 50]!];
        },
        batch,
      );
      const legacyVoteUs = time(
        impl,
        start,
        (i) => {
          const entryId = `e${Math.floor(random() * length)}`;
          return [{ type: 'anonymousVote', entryId, value: i % 3 === 0 ? -1 : 1 }, HOST];
        },
        batch,
      );
      rows.push({ length, impl, addUs, voteUs, legacyVoteUs });
      console.error(
        `  queue ${length} (${impl}): add ${addUs.toFixed(2)} µs, vote ${voteUs.toFixed(2)} µs, legacy vote ${legacyVoteUs.toFixed(2)} µs`,
      );
    }
  }
  return rows;
}

/** A room with `members` members (the host and joiners), built through joins. */
function roomWithMembers(members: number): RoomState {
  let state = roomOf(0, prng(members));
  for (let i = state.members.size; i < members; i++)
    state = applyWith(
      'now',
      state,
      envelope({ type: 'join', memberId: `j${i}`, name: `J${i}` }, null),
    ) as RoomState;
  return state;
}

function joinCurve(counts: readonly number[]): JoinRow[] {
  const rows: JoinRow[] = [];
  let fresh = 0;
  for (const members of counts) {
    const now = roomWithMembers(members);
    const rooms: Record<Impl, AnyState> = { now, before: asOld(now) };
    for (const impl of ['now', 'before'] as const) {
      // The old code copies every member per join: fewer joins a chain in big rooms.
      const batch = impl === 'now' ? BATCH : Math.max(5, Math.min(BATCH, Math.floor(200_000 / members)));
      const joinUs = time(
        impl,
        rooms[impl],
        () => {
          fresh += 1;
          return [{ type: 'join', memberId: `n${fresh}`, name: `N${fresh}` }, null];
        },
        batch,
      );
      rows.push({ members, impl, joinUs });
      console.error(`  ${members} members (${impl}): join ${joinUs.toFixed(2)} µs`);
    }
  }
  return rows;
}

function voterCurve(counts: readonly number[]): VoterRow[] {
  const rows: VoterRow[] = [];
  const base = roomOf(100, prng(7));
  const target = 'e50';
  for (const voters of counts) {
    // The target entry holds `voters` votes, half up and half down (its place does not change).
    const plain = JSON.parse(JSON.stringify(snapshot(base))) as {
      state: { queue: Record<string, unknown>[] };
    };
    const entry = plain.state.queue.find((e) => e['entryId'] === target)!;
    const votes: Record<string, 1 | -1> = {};
    for (let i = 0; i < voters; i++) votes[`voter-${i}`] = i % 2 === 0 ? 1 : -1;
    const ups = Math.ceil(voters / 2);
    Object.assign(entry, {
      votes,
      ups,
      downs: voters - ups,
      anonymousUps: undefined,
      anonymousDowns: undefined,
    });
    plain.state.queue.sort((a, b) => {
      const sa = (a['ups'] as number) - (a['downs'] as number);
      const sb = (b['ups'] as number) - (b['downs'] as number);
      return sb - sa || (a['seq'] as number) - (b['seq'] as number);
    });
    const now = restore(JSON.parse(JSON.stringify(plain)));
    const rooms: Record<Impl, AnyState> = { now, before: asOld(now) };
    for (const impl of ['now', 'before'] as const) {
      const batch = Math.max(5, Math.min(BATCH, Math.floor(200_000 / voters)));
      const voteUs = time(
        impl,
        rooms[impl],
        (i) => [{ type: 'vote', entryId: target, value: i % 2 === 0 ? 1 : -1 }, MEMBERS[0]!],
        batch,
      );
      rows.push({ voters, impl, voteUs });
      console.error(`  ${voters} voters (${impl}): vote ${voteUs.toFixed(2)} µs`);
    }
  }
  return rows;
}

const fmt = (x: number) =>
  x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en');

export async function runScale(options: { max: number; out: string }): Promise<string[]> {
  const points = [10, 100, 1_000, 10_000, 100_000].filter((n) => n <= options.max);
  const started = performance.now();
  // The machine is shared: its 1-minute load average at the start and the end goes with the figures.
  const loadBefore = os.loadavg()[0]!;
  // Warm-up: the JIT compiles apply's paths (both implementations) before anything is timed.
  queueCurve([Math.min(1000, options.max)]);
  const queueRows = queueCurve(points);
  const voterRows = voterCurve(points);
  const memberPoints = [100, 1_000, 20_000].filter((n) => n <= Math.max(options.max, 100));
  const joinRows = joinCurve(memberPoints);
  const durationS = (performance.now() - started) / 1000;
  const load = `${loadBefore.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)}`;

  const date = new Date().toISOString().slice(0, 10);
  const name = `${date}-scale${options.max < 100_000 ? `-max${options.max}` : ''}`;
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
  const at = (rows: readonly QueueRow[], length: number, impl: Impl) =>
    rows.find((r) => r.length === length && r.impl === impl)!;
  const ref = queueRows.find((r) => r.length === 100 && r.impl === 'now') ?? queueRows[0]!;
  const queueTable = [
    '| queue length | add, µs | vote, µs | legacy vote, µs | add vs 100 | vote vs 100 | before: add, µs | before: vote, µs | before: legacy vote, µs |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...points.map((n) => {
      const a = at(queueRows, n, 'now');
      const b = at(queueRows, n, 'before');
      return `| ${n.toLocaleString('en')} | ${fmt(a.addUs)} | ${fmt(a.voteUs)} | ${fmt(a.legacyVoteUs)} | ${(a.addUs / ref.addUs).toFixed(2)}× | ${(a.voteUs / ref.voteUs).toFixed(2)}× | ${fmt(b.addUs)} | ${fmt(b.voteUs)} | ${fmt(b.legacyVoteUs)} |`;
    }),
  ].join('\n');
  const voterTable = [
    '| votes on the entry | one more vote, µs | before, µs |',
    '| ---: | ---: | ---: |',
    ...points.map((n) => {
      const a = voterRows.find((r) => r.voters === n && r.impl === 'now')!;
      const b = voterRows.find((r) => r.voters === n && r.impl === 'before')!;
      return `| ${n.toLocaleString('en')} | ${fmt(a.voteUs)} | ${fmt(b.voteUs)} |`;
    }),
  ].join('\n');
  const joinRef = joinRows.find((r) => r.members === 100 && r.impl === 'now')!;
  const joinTable = [
    '| members | one more join, µs | vs 100 | before, µs |',
    '| ---: | ---: | ---: | ---: |',
    ...memberPoints.map((n) => {
      const a = joinRows.find((r) => r.members === n && r.impl === 'now')!;
      const b = joinRows.find((r) => r.members === n && r.impl === 'before')!;
      return `| ${n.toLocaleString('en')} | ${fmt(a.joinUs)} | ${(a.joinUs / joinRef.joinUs).toFixed(2)}× | ${fmt(b.joinUs)} |`;
    }),
  ].join('\n');
  const md = `# Scale: the cost of one command as a room grows (${date})

\`npx node bench/scale.ts --max ${options.max}\` (also \`npm run bench -- --scale\`) on ${machine};
took ${Math.round(durationS)} s, load average ${load}. The state machine alone (\`apply\`), in one process. "Before" is the
implementation the persistent structures replaced (plain arrays and maps copied on every change,
kept as the test oracle in test/oracle), timed in the same run on the same rooms. Each figure is the
mean CPU time of the main thread per command (process.threadCpuUsage) over at least ${BATCHES} chains of
up to ${BATCH} commands from the same room and at least ${MIN_CPU_US / 1000} ms of CPU per figure (fewer commands a chain
where the old code takes milliseconds a command).

## Against queue length

50 members; adds by the members, votes by the members on random entries (up and down by turns, so
every vote changes the room), legacy votes by the host on random entries.

${queueTable}

![per-command cost against queue length](${name}-queue.png)

## Against votes on one entry

A 100-entry queue; the entry holds N member votes; one member votes up and down by turns on it.

${voterTable}

![vote cost against votes on the entry](${name}-voters.png)

## Against members

A room of N members (built by joins, no queue); new members join one after another (issue 23: the
member map was copied on every join).

${joinTable}

![join cost against members](${name}-joins.png)
`;
  await mkdir(options.out, { recursive: true });
  const base = join(options.out, name);
  await writeFile(
    `${base}.json`,
    `${JSON.stringify({ date, machine, durationS, load, queueRows, voterRows, joinRows }, null, 2)}\n`,
  );
  await writeFile(`${base}.md`, md);
  const common = { width: 520, height: 300, config: { font: 'DejaVu Sans' } } as const;
  const queueLong = queueRows.flatMap((r) =>
    (['addUs', 'voteUs', 'legacyVoteUs'] as const).map((k) => ({
      length: r.length,
      us: r[k],
      series: `${{ addUs: 'add', voteUs: 'vote', legacyVoteUs: 'legacy vote' }[k]} (${r.impl})`,
    })),
  );
  await render(
    {
      ...common,
      title: 'One command on the state machine against queue length',
      data: { values: queueLong },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'length', type: 'quantitative', title: 'queued entries', scale: { type: 'log' } },
        y: { field: 'us', type: 'quantitative', title: 'µs per command', scale: { type: 'log' } },
        color: { field: 'series', type: 'nominal', title: 'command (implementation)' },
      },
    },
    `${base}-queue.png`,
  );
  await render(
    {
      ...common,
      title: 'One member vote against votes already on the entry',
      data: { values: voterRows.map((r) => ({ ...r })) },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'voters', type: 'quantitative', title: 'votes on the entry', scale: { type: 'log' } },
        y: { field: 'voteUs', type: 'quantitative', title: 'µs per vote', scale: { type: 'log' } },
        color: { field: 'impl', type: 'nominal', title: 'implementation' },
      },
    },
    `${base}-voters.png`,
  );
  await render(
    {
      ...common,
      title: 'One join against members already in the room',
      data: { values: joinRows.map((r) => ({ ...r })) },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'members', type: 'quantitative', title: 'members', scale: { type: 'log' } },
        y: { field: 'joinUs', type: 'quantitative', title: 'µs per join', scale: { type: 'log' } },
        color: { field: 'impl', type: 'nominal', title: 'implementation' },
      },
    },
    `${base}-joins.png`,
  );
  console.error(`\n${queueTable}\n\n${voterTable}\n\n${joinTable}\n`);
  return [`${base}.md`, `${base}.json`, `${base}-queue.png`, `${base}-voters.png`, `${base}-joins.png`];
}

if (import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      max: { type: 'string', default: '100000' },
      out: { type: 'string', default: fileURLToPath(new URL('./results/', import.meta.url)) },
    },
  });
  const max = Number(values.max);
  if (!Number.isSafeInteger(max) || max < 10) throw new Error('--max must be a whole number of at least 10');
  const files = await runScale({ max, out: values.out });
  console.log(`results: ${files.join(', ')}`);
}
