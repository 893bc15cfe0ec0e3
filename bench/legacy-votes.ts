// The cost of one legacy (anonymous) vote on the state machine, after 1, 1k, 10k and 100k legacy
// votes on the same entry (issue 13): each is a count now, so the 100,000th should cost what the
// first did. Beside it, in the same run, the cost the earlier way had: a vote that adds one more
// voter key to an entry already holding N keys (the map is copied on every vote), measured with a
// member vote on an entry given N anonymous keys, which is what an anonymous vote did before.
//
//   npx node bench/legacy-votes.ts [--max 100000] [--out bench/results]
//
// Writes bench/results/<date>-legacy-votes.md (and .json) and prints the table. A benchmark, not a
// test: nothing here passes or fails on time (test/bench/legacy-votes.test.ts runs it small).

import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { apply, Queue, Votes, type Command, type Envelope, type RoomState } from '../src/domain/index.ts';

const ROOM = 'bench-legacy';
const HOST = 'legacy-host';
const T0 = 1_800_000_000_000;
/** Votes timed at each point, in batches; the median batch is reported (the machine is shared). */
const BATCH = 200;
const BATCHES = 15;
/** The earlier way costs up to a second a vote at 100k: fewer votes are timed there. */
const keyedBatch = (n: number) => Math.max(3, Math.min(BATCH, Math.floor(300_000 / n)));

const { values: args } = parseArgs({
  options: {
    max: { type: 'string', default: '100000' },
    out: { type: 'string', default: fileURLToPath(new URL('./results/', import.meta.url)) },
  },
});
const max = Number(args.max);
if (!Number.isSafeInteger(max) || max < 1) throw new Error('--max must be a whole number of at least 1');
const POINTS = [1, 1_000, 10_000, 100_000].filter((n) => n <= max);

let seq = 0;
function step(state: RoomState | null, command: Command, actor: string | null = HOST): RoomState {
  seq += 1;
  const env: Envelope = { commandId: `c${seq}`, roomId: ROOM, actor, at: T0 + seq, command };
  const out = apply(state, env);
  if (!out.result.ok) throw new Error(`${command.type}: ${out.result.error.message}`);
  return out.state!;
}

/** The legacy room's settings, ten queued tracks, a full retry window; the votes go to the fifth. */
function legacyRoom(): RoomState {
  let state = step(null, {
    type: 'createRoom',
    name: 'Legacy queue',
    hostName: 'legacy',
    settings: {
      autoplay: false,
      maxQueueLength: 500_000,
      maxEntriesPerMember: 0,
      voteOffThreshold: 0,
      skipVotes: 0,
    },
  });
  for (let i = 1; i <= 10; i++) {
    state = step(state, {
      type: 'addTrack',
      entryId: `e${i}`,
      track: { trackId: String(i), title: `Song ${i}`, artist: 'Band', album: '', durationMs: 180_000 },
    });
  }
  state = step(state, { type: 'join', memberId: 'member', name: 'Member' }, null);
  // A busy room remembers a full window of command ids (RECENT_COMMANDS_KEPT) for retries; fill it
  // with votes on another entry, so the first point differs from the others only by the votes on e5.
  for (let i = 0; i < 1100; i++) state = step(state, { type: 'anonymousVote', entryId: 'e1', value: 1 });
  return state;
}

const TARGET = 'e5';

/** Median µs per vote over `batches` batches of `batch` votes, each batch from `start`. */
function timeVotes(
  start: RoomState,
  command: () => Command,
  actor: string,
  batch = BATCH,
  batches = BATCHES,
): number {
  const perVote: number[] = [];
  for (let b = 0; b < batches; b++) {
    let state = start;
    const t = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) state = step(state, command(), actor);
    perVote.push(Number(process.hrtime.bigint() - t) / 1000 / batch);
  }
  perVote.sort((a, b) => a - b);
  return perVote[Math.floor(perVote.length / 2)]!;
}

interface Row {
  readonly votes: number;
  readonly countUs: number;
  readonly keyedUs: number;
}

// Warm-up: the JIT compiles apply's paths before the first point is timed (it would look slowest).
timeVotes(legacyRoom(), () => ({ type: 'anonymousVote', entryId: TARGET, value: 1 }), HOST, 2000, 3);
timeVotes(
  legacyRoom(),
  () => ({ type: 'vote', entryId: TARGET, value: seq % 2 === 0 ? 1 : -1 }),
  'member',
  2000,
  3,
);

const rows: Row[] = [];
let counted = legacyRoom();
let cast = 0;
const anonymous = (): Command => ({ type: 'anonymousVote', entryId: TARGET, value: seq % 3 === 0 ? -1 : 1 });
for (const n of POINTS) {
  // Bring the entry to n - 1 legacy votes, then time the n-th (and the BATCH after it).
  while (cast < n - 1) {
    counted = step(counted, anonymous());
    cast += 1;
  }
  const entry = counted.queue.find((e) => e.entryId === TARGET)!;
  if (entry.ups + entry.downs !== n - 1 || entry.votes.size !== 0) {
    throw new Error(
      `e5 should hold ${n - 1} votes as counts: ${JSON.stringify({ ...entry, track: undefined })}`,
    );
  }
  const countUs = timeVotes(counted, anonymous, HOST);

  // The earlier way: the same entry holding n - 1 voter keys; a vote adds the n-th key (a copy).
  const keys: Record<string, 1 | -1> = {};
  for (let i = 0; i < n - 1; i++) keys[`~anon:old-${i}`] = i % 3 === 0 ? -1 : 1;
  const ups = Object.values(keys).filter((v) => v === 1).length;
  const base = legacyRoom();
  const keyed: RoomState = {
    ...base,
    queue: Queue.of(
      base.queue.map((e) =>
        e.entryId === TARGET ? { ...e, votes: Votes.fromRecord(keys), ups, downs: n - 1 - ups } : e,
      ),
    ),
  };
  const sorted = {
    ...keyed,
    queue: Queue.of([...keyed.queue].sort((a, b) => b.ups - b.downs - (a.ups - a.downs) || a.seq - b.seq)),
  };
  // The member alternates up and down, so every vote changes the entry (and copies its map).
  let flip = 0;
  const keyedUs = timeVotes(
    sorted,
    () => ({ type: 'vote', entryId: TARGET, value: flip++ % 2 === 0 ? 1 : -1 }),
    'member',
    keyedBatch(n),
    n >= 10_000 ? 3 : BATCHES,
  );
  rows.push({ votes: n, countUs, keyedUs });
  console.error(`  ${n} votes: ${countUs.toFixed(2)} µs as a count, ${keyedUs.toFixed(2)} µs as a key`);
}

const first = rows[0]!;
const table = [
  '| legacy votes already cast | one vote as a count (now), µs | vs the first | one vote as a voter key (before), µs | vs the first |',
  '| ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.votes.toLocaleString('en')} | ${r.countUs.toFixed(2)} | ${(r.countUs / first.countUs).toFixed(2)}× | ${r.keyedUs.toFixed(2)} | ${(r.keyedUs / first.keyedUs).toFixed(2)}× |`,
  ),
].join('\n');
const date = new Date().toISOString().slice(0, 10);
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
const md = `# Legacy votes: the cost of one more vote on one entry (${date})

\`npx node bench/legacy-votes.ts --max ${max}\` on ${machine}. The state machine alone (\`apply\`),
on a legacy room of ten queued tracks that remembers a full window of command ids (as a busy room
does), all votes on one of them. Each figure is the median of
${BATCHES} batches of ${BATCH} votes cast from that point. "As a voter key" is the earlier way,
measured in the same run: the entry holds one key per earlier vote and each vote copies the map
(timed over fewer votes where one costs milliseconds: ${POINTS.map((n) => `${keyedBatch(n)}`).join(', ')} a batch,
3 batches from 10,000 on).

${table}
`;
await mkdir(args.out, { recursive: true });
const base = join(args.out, `${date}-legacy-votes`);
await writeFile(`${base}.md`, md);
await writeFile(
  `${base}.json`,
  `${JSON.stringify({ date, machine, max, batch: BATCH, batches: BATCHES, rows }, null, 2)}\n`,
);
console.log(md);
console.log(`written: ${base}.md`);
