// `npm run bench -- --scale` (second half; or `npx node bench/node-scale.ts`): what one node's costs
// do as its audience and its rooms grow (issue 21 items 2 and 3), each against a fresh
// `chorus serve` (embedded store, fsync on) with its connection and stream caps raised:
// - fan-out: N live subscribers of one room (half SSE, half gRPC Watch; N = 100 → 10,000) held by
//   separate load-generator processes (bench/lib/fan-out-client.ts, up to 2,500 subscribers each);
//   the host votes 20 times, one vote at a time, 250 ms apart; the latency of a vote is from the
//   moment its request is sent to the moment each subscriber has the change (p50/p99 over every
//   subscriber and vote, and the slowest subscriber per vote); memory per idle subscriber is the
//   growth of the node's RSS while the subscribers were added, divided by their number. The
//   generators report their own CPU share and event-loop delay: a generator whose loop lags is
//   itself part of the latency, so the figures say whether that happened.
// - rooms: a node holding R rooms (10 → 100,000), of which min(R, 1,000) are written to: 20 REST
//   clients, each one add at a time to a random active room, for 8 s; write latency p50/p99 and
//   throughput. Each point is a fresh node on a data dir seeded beforehand through the store API in a
//   separate process (bench/lib/seed-rooms.ts: creating 100,000 rooms through REST took most of the
//   10-minute bound); the node then serves them from its own data dir, with its token secret in the
//   data dir's `secret` file (never on argv), with which the bench signs the host tokens. Memory:
//   the node's RSS against the 10-room node's, per room held, and the store's loaded rooms and heap
//   per loaded room from /metrics. `--room-idle-ms N` is passed to the node (default: its own
//   default); with 0 the room index is also removed, so that the node loads every room at start as
//   before eviction existed.
// Writes bench/results/<date>-node-scale.{md,json} and two PNGs. A benchmark: nothing here passes or
// fails on time (test/bench/node-scale.test.ts runs it small).
//
//   npx node bench/node-scale.ts [--max-subscribers 10000] [--max-rooms 100000] [--parts fan-out,rooms]
//                                [--room-idle-ms MS] [--out DIR] [--label WHAT]
//                                [--points 2000,10000] [--chorus-root DIR] [--cpu-prof DIR]
//                                [--heap-snapshots DIR]
// `--points` picks the fan-out curve's subscriber counts; `--chorus-root` serves the fan-out node
// from another checkout (a baseline measured in the same run); `--cpu-prof` profiles the fan-out
// node, and each row's `windowUs` (in the JSON) is what `bench/profile-node.ts --read F --window`
// summarises: the node's CPU while that row's votes went out. `--heap-snapshots` has the node
// write a heap snapshot before the first subscribers and once each row's are in (idle), named
// subscribers-N.heapsnapshot: `bench/heap-diff.ts` says what each added subscriber holds.
// (Each part alone stays under ten minutes on the shared machine; both together may not.)

import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnProcess, stopProcess, waitForLine, type Spawned } from '../src/cluster/process.ts';
import { TokenSigner } from '../src/node/tokens.ts';
import { render } from './lib/figures.ts';
import { SEED_HOST } from './lib/seed-rooms.ts';
import { latencyOf, prng, type Latency } from './lib/stats.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const CLIENT = join(ROOT, 'bench/lib/fan-out-client.ts');
const SEEDER = join(ROOT, 'bench/lib/seed-rooms.ts');
const PER_GENERATOR = 2500;
const VOTES = 20;
const VOTE_GAP_MS = 250;
const WRITE_CLIENTS = 20;
const WRITE_SECONDS = 8;
const ACTIVE_ROOMS = 1000;

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (x: number, digits = 1) => x.toFixed(digits);

interface Node {
  readonly rest: string;
  readonly grpc: string;
  readonly pid: number;
  readonly p: Spawned;
}

/** How the fan-out node is started: which checkout serves, and Node flags such as `--cpu-prof`. */
interface Serve {
  /** The `src/cli/main.ts` to run (another checkout's, to compare against it in the same run). */
  readonly main: string;
  readonly nodeFlags: readonly string[];
  /** Where the node writes a heap snapshot before the first subscribers and after each row's join. */
  readonly heapSnapshots?: string;
}

/** Has the node write a heap snapshot (it was started with --heapsnapshot-signal) and waits for it. */
async function heapSnapshot(node: Node, dir: string, name: string): Promise<void> {
  const before = new Set(await readdir(dir));
  process.kill(node.pid, 'SIGUSR2');
  const deadline = now() + 120_000;
  for (;;) {
    await sleep(500);
    const written = (await readdir(dir)).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    // Written when the node answers again (a snapshot stops its event loop until it is complete).
    if (written !== undefined && (await fetch(`${node.rest}/metrics`)).ok) {
      await rename(join(dir, written), join(dir, `${name}.heapsnapshot`));
      return;
    }
    if (now() > deadline) throw new Error('no heap snapshot after 120 s');
  }
}

async function startNode(dir: string, extra: readonly string[] = [], serve?: Serve): Promise<Node> {
  const big = '1000000';
  const p = spawnProcess(process.execPath, [
    ...(serve?.nodeFlags ?? []),
    serve?.main ?? MAIN,
    'serve',
    ...extra,
    ...['--port', '0', '--grpc-port', '0', '--data-dir', dir, '--log-level', 'warn', '--no-legacy'],
    ...['--max-streams', '20000', '--max-connections', '20000', '--max-connections-per-address', '20000'],
    ...['--writes-per-member', big, '--rooms-per-address', big, '--joins-per-address', big],
  ]);
  await waitForLine(p, /^grpc /, 60_000, 'chorus serve');
  const value = (re: RegExp) => p.lines.map((l) => re.exec(l)?.[1]).find((v) => v !== undefined)!;
  return { rest: value(/^rest (\S+)/), grpc: value(/^grpc (\S+)/), pid: p.child.pid ?? 0, p };
}

/** CPU time of a process so far, ms, in user space and in the kernel (from /proc; 10 ms ticks). */
function processCpuMs(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1000) / 100, system: (Number(fields[12]) * 1000) / 100 };
}

/** The node's resident memory, bytes (from /proc: the node is a separate process). */
function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

async function post(url: string, body: unknown, token?: string, method = 'POST'): Promise<unknown> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json: unknown = await response.json();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const SETTINGS = { autoplay: false, maxQueueLength: 1_000_000, maxEntriesPerMember: 0, voteOffThreshold: 0 };

async function createRoom(rest: string, roomId: string, isPublic = true): Promise<string> {
  const created = (await post(`${rest}/v1/rooms`, {
    roomId,
    name: roomId,
    hostName: 'Host',
    settings: { ...SETTINGS, public: isPublic },
  })) as { token: string };
  return created.token;
}

const track = (i: number) => ({
  trackId: `bench:${i}`,
  title: `Song ${i}`,
  artist: `Band ${i % 97}`,
  album: 'Bench',
  durationMs: 180_000,
});

// ---- Fan-out ---------------------------------------------------------------------------------------

interface FanOutRow {
  readonly subscribers: number;
  readonly generators: number;
  /** Every (subscriber, vote) delivery, ms. */
  readonly latency: Latency;
  /** Per vote, the time until its last subscriber had it, ms. */
  readonly lastSubscriber: Latency;
  readonly delivered: number;
  readonly expected: number;
  /**
   * CPU time of the node from the first vote until every subscriber had every vote (or the wait
   * gave up), per delivery due (the write's own cost included).
   */
  readonly nodeCpuUsPerDelivery: number;
  /** The part of that CPU time spent in the kernel (socket writes), 0-1. */
  readonly nodeSystemShare: number;
  readonly rssMiB: number;
  readonly bytesPerSubscriber: number;
  readonly generatorCpuPct: readonly number[];
  readonly generatorLoopDelayP99Ms: readonly number[];
  readonly loadAverage: number;
  /**
   * From the first vote sent to the last delivery counted, on the monotonic clock in µs (the clock
   * of a `--cpu-prof` profile's timestamps): `bench/profile-node.ts --read F --window A,B`
   * summarises the node's profile over just this window.
   */
  readonly windowUs: readonly [number, number];
}

/** The monotonic clock in µs, as V8's CPU profiles (and process.hrtime) count it. */
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

interface Generator {
  readonly child: ChildProcess;
  ask<T>(message: object, answer: string): Promise<T>;
}

function startGenerator(rest: string, grpc: string, roomId: string): Promise<Generator> {
  const child = fork(CLIENT, [rest, grpc, roomId], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<string, (value: unknown) => void>();
  child.on('message', (raw) => {
    const message = raw as Record<string, unknown>;
    if ('error' in message) throw new Error(`fan-out generator: ${String(message['error'])}`);
    for (const [key, resolve] of waiting) {
      if (key in message) {
        waiting.delete(key);
        resolve(message);
      }
    }
  });
  const ask = <T>(message: object, answer: string): Promise<T> =>
    new Promise((resolve) => {
      waiting.set(answer, resolve as (value: unknown) => void);
      if (Object.keys(message).length > 0) child.send(message);
    });
  return ask<unknown>({}, 'ready').then(() => ({ child, ask }));
}

async function fanOutCurve(
  points: readonly number[],
  dir: string,
  rows: FanOutRow[],
  onRow: () => Promise<unknown>,
  serve: Serve,
): Promise<void> {
  const node = await startNode(dir, [], serve);
  const generators: Generator[] = [];
  try {
    const roomId = 'fan-out';
    const token = await createRoom(node.rest, roomId);
    const added = (await post(`${node.rest}/v1/rooms/${roomId}/queue`, { track: track(0) }, token)) as {
      entry: { entryId: string };
    };
    const entryId = added.entry.entryId;
    await sleep(1000);
    const held: number[] = [];
    if (serve.heapSnapshots !== undefined) await heapSnapshot(node, serve.heapSnapshots, 'subscribers-0');
    let rssBefore = rss(node.pid);
    let vote = 0;
    for (const n of points) {
      // Spread the new subscribers so that no generator holds more than PER_GENERATOR.
      const wanted = Math.ceil(n / PER_GENERATOR);
      while (generators.length < wanted) {
        generators.push(await startGenerator(node.rest, node.grpc, roomId));
        held.push(0);
      }
      // Every generator holds an equal share (at most PER_GENERATOR); the new ones take what is new.
      const target = Math.ceil(n / generators.length);
      let remaining = n - held.reduce((a, b) => a + b, 0);
      const counts = held.map((h) => {
        const more = Math.max(0, Math.min(remaining, target - h));
        remaining -= more;
        return more;
      });
      counts.forEach((more, i) => (held[i] = held[i]! + more));
      if (remaining !== 0) throw new Error(`could not place ${remaining} subscribers`);
      await Promise.all(
        generators.map((g, i) => {
          const more = counts[i]!;
          if (more === 0) return Promise.resolve();
          const sse = Math.floor(more / 2);
          return g.ask({ open: { sse, grpc: more - sse } }, 'opened');
        }),
      );
      await sleep(2000);
      const rssNow = rss(node.pid);
      if (serve.heapSnapshots !== undefined)
        await heapSnapshot(node, serve.heapSnapshots, `subscribers-${n}`);
      const bytesPerSubscriber = (rssNow - rssBefore) / (n - (rows.at(-1)?.subscribers ?? 0));
      rssBefore = rssNow;
      // Start a fresh window in every generator, then the votes.
      await Promise.all(generators.map((g) => g.ask({ report: true }, 'arrivals')));
      const sentAt = new Map<number, number>();
      const cpuFrom = processCpuMs(node.pid);
      const windowFrom = monotonicUs();
      for (let i = 0; i < VOTES; i++) {
        const slot = now();
        const at = now();
        const answer = (await post(
          `${node.rest}/v1/rooms/${roomId}/queue/${entryId}/vote`,
          { value: vote++ % 2 === 0 ? 1 : -1 },
          token,
          'PUT',
        )) as { version: number };
        sentAt.set(answer.version, at);
        await sleep(Math.max(0, VOTE_GAP_MS - (now() - slot)));
      }
      // Until every subscriber has every vote, or 30 s.
      const expected = n * VOTES;
      const deadline = now() + 30_000;
      for (;;) {
        const counts = await Promise.all(
          generators.map((g) => g.ask<{ counted: number }>({ count: true }, 'counted')),
        );
        if (counts.reduce((a, c) => a + c.counted, 0) >= expected || now() > deadline) break;
        await sleep(500);
      }
      const windowTo = monotonicUs();
      const cpuTo = processCpuMs(node.pid);
      const cpuUser = cpuTo.user - cpuFrom.user;
      const cpuSystem = cpuTo.system - cpuFrom.system;
      const reports = await Promise.all(
        generators.map((g) =>
          g.ask<{ arrivals: [number, number[]][]; cpuPct: number; loopDelayP99Ms: number }>(
            { report: true },
            'arrivals',
          ),
        ),
      );
      const all: number[] = [];
      const last = new Map<number, number>();
      for (const r of reports) {
        for (const [version, times] of r.arrivals) {
          const sent = sentAt.get(version);
          if (sent === undefined) continue;
          for (const t of times) {
            all.push(t - sent);
            last.set(version, Math.max(last.get(version) ?? 0, t - sent));
          }
        }
      }
      const row: FanOutRow = {
        subscribers: n,
        generators: generators.length,
        latency: latencyOf(all),
        lastSubscriber: latencyOf([...last.values()]),
        delivered: all.length,
        expected,
        nodeCpuUsPerDelivery: ((cpuUser + cpuSystem) * 1000) / expected,
        nodeSystemShare: cpuSystem / Math.max(1, cpuUser + cpuSystem),
        rssMiB: rssNow / 2 ** 20,
        bytesPerSubscriber,
        generatorCpuPct: reports.map((r) => Math.round(r.cpuPct)),
        generatorLoopDelayP99Ms: reports.map((r) => Math.round(r.loopDelayP99Ms)),
        loadAverage: os.loadavg()[0]!,
        windowUs: [windowFrom, windowTo],
      };
      rows.push(row);
      // Written after every row, so that a run cut short still leaves what it measured.
      await onRow();
      console.error(
        `  fan-out ${n}: p50 ${fmt(row.latency.p50)} ms, p99 ${fmt(row.latency.p99)} ms, last subscriber p99 ${fmt(row.lastSubscriber.p99)} ms, delivered ${row.delivered}/${row.expected}, node CPU ${fmt(row.nodeCpuUsPerDelivery)} µs/delivery (${Math.round(row.nodeSystemShare * 100)}% kernel), ${Math.round(bytesPerSubscriber)} B/subscriber, generators cpu ${row.generatorCpuPct.join('/')}% loop p99 ${row.generatorLoopDelayP99Ms.join('/')} ms, load ${fmt(row.loadAverage)}`,
      );
    }
  } finally {
    for (const g of generators) g.child.send({ exit: true });
    await stopProcess(node.p, 30_000);
  }
}

// ---- Many rooms ------------------------------------------------------------------------------------

interface RoomsRow {
  readonly rooms: number;
  readonly active: number;
  readonly latency: Latency;
  readonly writesPerS: number;
  readonly rssMiB: number;
  /** The node's RSS 1 s after it started, before the writes. */
  readonly rssAtStartMiB: number;
  /** (RSS − the 10-room node's RSS) / (rooms − 10); null for the 10-room node itself. */
  readonly bytesPerRoom: number | null;
  /** From the node's /metrics after the writes: rooms held in memory, V8 heap in use. */
  readonly loadedRooms: number;
  readonly heapMiB: number;
  /** (heap − the 10-room node's heap) / (rooms loaded − its rooms loaded); null for the 10-room node. */
  readonly heapBytesPerLoadedRoom: number | null;
  readonly seedS: number;
  readonly startS: number;
  /**
   * With `--room-idle-ms 0` (no room index at start): how long the node took, from one write, to
   * write the snapshot with a room index that a start without one takes at its first write (waited
   * for before the measured writes, so that they do not pay for this one-off conversion).
   */
  readonly conversionS: number | null;
  readonly listMs: number;
  readonly loadAverage: number;
}

/** Seeds `dir` with `rooms` rooms in a separate process (bench/lib/seed-rooms.ts). */
async function seed(dir: string, rooms: number): Promise<void> {
  const child = fork(SEEDER, [dir, String(rooms)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`seeding ${rooms} rooms exited ${code}`);
}

/** Unlabelled gauges read from the node's /metrics. */
async function metrics(rest: string, names: readonly string[]): Promise<number[]> {
  const text = await fetch(`${rest}/metrics`).then((res) => res.text());
  return names.map((name) => {
    const found = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
    if (found === undefined) throw new Error(`no ${name} in /metrics`);
    return Number(found);
  });
}

async function roomsCurve(
  points: readonly number[],
  dir: string,
  roomIdleMs: number | null,
  rows: RoomsRow[],
  onRow: () => Promise<unknown>,
): Promise<void> {
  let added = 0;
  for (const r of points) {
    const data = join(dir, `r${r}`);
    const t0 = now();
    await seed(data, r);
    const seedS = (now() - t0) / 1000;
    // The node's secret, in the file it reads its secret from (src/node/node.ts), never on argv.
    const secret = randomBytes(32).toString('base64url');
    await writeFile(join(data, 'secret'), `${secret}\n`, { mode: 0o600 });
    if (roomIdleMs === 0) {
      // No room index: the node loads every room at start, as before eviction existed.
      for (const f of await readdir(data)) if (f.endsWith('.rooms')) await unlink(join(data, f));
    }
    const t1 = now();
    const node = await startNode(data, roomIdleMs === null ? [] : ['--room-idle-ms', String(roomIdleMs)]);
    const startS = (now() - t1) / 1000;
    try {
      const signer = new TokenSigner(secret);
      const active = Math.min(r, ACTIVE_ROOMS);
      const tokens = Array.from({ length: active }, (_, i) =>
        signer.sign({ roomId: `r${i}`, memberId: SEED_HOST }),
      );
      let conversionS: number | null = null;
      if (roomIdleMs === 0) {
        const t2 = now();
        await post(`${node.rest}/v1/rooms/r0/queue`, { track: track(added++) }, tokens[0]);
        const deadline = now() + 120_000;
        while (!(await readdir(data)).some((f) => f.endsWith('.rooms'))) {
          if (now() > deadline) throw new Error('no snapshot with a room index within 120 s');
          await sleep(100);
        }
        conversionS = (now() - t2) / 1000;
      }
      await sleep(1000);
      const rssAtStartMiB = rss(node.pid) / 2 ** 20;
      const random = prng(r);
      const samples: number[] = [];
      const until = now() + WRITE_SECONDS * 1000;
      await Promise.all(
        Array.from({ length: WRITE_CLIENTS }, async () => {
          while (now() < until) {
            const room = Math.floor(random() * active);
            const t = now();
            await post(`${node.rest}/v1/rooms/r${room}/queue`, { track: track(added++) }, tokens[room]);
            samples.push(now() - t);
          }
        }),
      );
      const t = now();
      await fetch(`${node.rest}/v1/rooms?limit=50`).then((res) => res.json());
      const listMs = now() - t;
      await sleep(1000);
      const rssNow = rss(node.pid);
      const base = rows.find((row) => row.rooms === 10 && r > 10);
      const [loadedRooms = 0, heapBytes = 0] = await metrics(node.rest, [
        'chorus_rooms_loaded',
        'nodejs_heap_size_used_bytes',
      ]);
      const heapMiB = heapBytes / 2 ** 20;
      const row: RoomsRow = {
        rooms: r,
        active,
        latency: latencyOf(samples),
        writesPerS: samples.length / WRITE_SECONDS,
        rssMiB: rssNow / 2 ** 20,
        rssAtStartMiB,
        bytesPerRoom: base ? (rssNow - base.rssMiB * 2 ** 20) / (r - base.rooms) : null,
        loadedRooms,
        heapMiB,
        heapBytesPerLoadedRoom:
          base && loadedRooms > base.loadedRooms
            ? ((heapMiB - base.heapMiB) * 2 ** 20) / (loadedRooms - base.loadedRooms)
            : null,
        seedS,
        startS,
        conversionS,
        listMs,
        loadAverage: os.loadavg()[0]!,
      };
      rows.push(row);
      // Written after every row, so that a run cut short still leaves what it measured.
      await onRow();
      console.error(
        `  rooms ${r} (${active} active): p50 ${fmt(row.latency.p50)} ms, p99 ${fmt(row.latency.p99)} ms, ${fmt(row.writesPerS, 0)} writes/s, RSS ${fmt(rssAtStartMiB, 0)} / ${fmt(row.rssMiB, 0)} MiB, ${row.bytesPerRoom === null ? '-' : Math.round(row.bytesPerRoom)} B/room over 10 rooms, loaded ${row.loadedRooms}, heap ${fmt(heapMiB)} MiB, ${row.heapBytesPerLoadedRoom === null ? '-' : Math.round(row.heapBytesPerLoadedRoom)} B/loaded room over 10 rooms, seed ${fmt(seedS)} s, start ${fmt(startS)} s${conversionS === null ? '' : `, conversion snapshot ${fmt(conversionS)} s`}, list ${fmt(listMs)} ms, load ${fmt(row.loadAverage)}`,
      );
    } finally {
      await stopProcess(node.p, 60_000);
      await rm(data, { recursive: true, force: true });
    }
  }
}

// ---- Report ----------------------------------------------------------------------------------------

export type NodeScalePart = 'fan-out' | 'rooms';
export const NODE_SCALE_PARTS: readonly NodeScalePart[] = ['fan-out', 'rooms'];

export async function runNodeScale(options: {
  maxSubscribers: number;
  maxRooms: number;
  out: string;
  parts?: readonly NodeScalePart[];
  /** Passed to the rooms curve's node as `--room-idle-ms`; null: the node's default. */
  roomIdleMs?: number | null;
  /** The fan-out curve's points (subscribers); default 100, 1,000, 2,500, 5,000, 10,000 up to the max. */
  points?: readonly number[];
  /** Another checkout whose `chorus serve` the fan-out node runs (a baseline in the same run). */
  chorusRoot?: string;
  /** Profile the fan-out node (`--cpu-prof`), writing its profile into this directory. */
  cpuProfDir?: string;
  /** Heap snapshots of the fan-out node, before any subscriber and once each row's have joined. */
  heapSnapshotDir?: string;
  /** Appended to the results' file name (what the run was). */
  label?: string;
}): Promise<string[]> {
  const roomIdleMs = options.roomIdleMs ?? null;
  const serve: Serve = {
    main: options.chorusRoot === undefined ? MAIN : join(options.chorusRoot, 'src/cli/main.ts'),
    nodeFlags: [
      ...(options.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir]),
      ...(options.heapSnapshotDir === undefined
        ? []
        : ['--heapsnapshot-signal=SIGUSR2', '--diagnostic-dir', options.heapSnapshotDir]),
    ],
    ...(options.heapSnapshotDir === undefined ? {} : { heapSnapshots: options.heapSnapshotDir }),
  };
  const points = (options.points ?? [100, 1000, 2500, 5000, 10_000]).filter(
    (n) => n <= options.maxSubscribers,
  );
  const parts = options.parts ?? NODE_SCALE_PARTS;
  const started = performance.now();
  const tmp = await mkdtemp(join(tmpdir(), 'chorus-node-scale-'));
  const fanOut: FanOutRow[] = [];
  const rooms: RoomsRow[] = [];
  const loadBefore = os.loadavg()[0]!;
  const report = async (): Promise<string[]> => {
    const durationS = (performance.now() - started) / 1000;
    const date = new Date().toISOString().slice(0, 10);
    const small = options.maxSubscribers < 10_000 || options.maxRooms < 100_000;
    const name = `${date}-node-scale${parts.length < NODE_SCALE_PARTS.length ? `-${parts.join('-')}` : ''}${small ? `-max${options.maxSubscribers}-${options.maxRooms}` : ''}${roomIdleMs === null ? '' : `-idle${roomIdleMs}`}${options.label === undefined ? '' : `-${options.label}`}`;
    const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
    const fanTable = [
      '| subscribers | p50, ms | p99, ms | last subscriber p99, ms | delivered | node CPU per delivery, µs (kernel share) | node RSS, MiB | bytes per added subscriber | generators (CPU %, loop delay p99 ms) | load average |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
      ...fanOut.map(
        (r) =>
          `| ${r.subscribers.toLocaleString('en')} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p99)} | ${fmt(r.lastSubscriber.p99)} | ${r.delivered}/${r.expected} | ${fmt(r.nodeCpuUsPerDelivery)} (${Math.round(r.nodeSystemShare * 100)}%) | ${fmt(r.rssMiB, 0)} | ${Math.round(r.bytesPerSubscriber).toLocaleString('en')} | ${r.generatorCpuPct.map((c, i) => `${c}%, ${r.generatorLoopDelayP99Ms[i]}`).join('; ')} | ${fmt(r.loadAverage)} |`,
      ),
    ].join('\n');
    const base10 = rooms[0];
    const roomsTable = [
      '| rooms | active | write p50, ms | write p99, ms | p50 / p99 vs 10 rooms | writes/s | node RSS at start / after the writes, MiB | RSS per room over the 10-room node, bytes | rooms loaded | heap, MiB | heap per loaded room over the 10-room node, bytes | seed, s | node start, s | conversion snapshot, s | room list (50), ms | load average |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rooms.map(
        (r) =>
          `| ${r.rooms.toLocaleString('en')} | ${r.active.toLocaleString('en')} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p99)} | ${base10 ? `${fmt(r.latency.p50 / base10.latency.p50, 2)}× / ${fmt(r.latency.p99 / base10.latency.p99, 2)}×` : '-'} | ${fmt(r.writesPerS, 0)} | ${fmt(r.rssAtStartMiB, 0)} / ${fmt(r.rssMiB, 0)} | ${r.bytesPerRoom === null ? '-' : Math.round(r.bytesPerRoom).toLocaleString('en')} | ${r.loadedRooms.toLocaleString('en')} | ${fmt(r.heapMiB)} | ${r.heapBytesPerLoadedRoom === null ? '-' : Math.round(r.heapBytesPerLoadedRoom).toLocaleString('en')} | ${fmt(r.seedS)} | ${fmt(r.startS)} | ${r.conversionS === null ? '-' : fmt(r.conversionS)} | ${fmt(r.listMs)} | ${fmt(r.loadAverage)} |`,
      ),
    ].join('\n');
    const md = `# Node scale: fan-out and many rooms (${date})

  \`npx node bench/node-scale.ts --max-subscribers ${options.maxSubscribers} --max-rooms ${options.maxRooms}${parts.length < NODE_SCALE_PARTS.length ? ` --parts ${parts.join(',')}` : ''}${roomIdleMs === null ? '' : ` --room-idle-ms ${roomIdleMs}`}${options.points === undefined ? '' : ` --points ${points.join(',')}`}${options.chorusRoot === undefined ? '' : ` --chorus-root ${options.chorusRoot}`}${options.cpuProfDir === undefined ? '' : ' --cpu-prof DIR'}${options.label === undefined ? '' : ` --label ${options.label}`}\`
  (also \`npm run bench -- --scale\`) on ${machine}; took ${Math.round(durationS)} s; load average
  ${fmt(loadBefore)} at the start (the machine is shared: the load average is beside each row).
  Each curve on a fresh \`chorus serve\` (embedded store, fsync on, stream and connection caps raised).

  ${
    fanOut.length === 0
      ? ''
      : `## Fan-out: one room, N live subscribers (half SSE, half gRPC Watch)

  The host votes ${VOTES} times, one vote at a time, ${VOTE_GAP_MS} ms apart; a delivery's latency runs
  from the vote's request being sent to the subscriber having the change (the write's fsync included).
  Subscribers are held by separate generator processes (at most ${PER_GENERATOR.toLocaleString('en')} each, SSE on raw
  sockets, gRPC 100 streams per connection); their CPU share and event-loop delay p99 during the votes
  are listed, so a generator that lagged would show. Memory: growth of the node's RSS while the
  subscribers of that row were added (idle, after 2 s), per subscriber added.

  ${fanTable}

  ![fan-out latency and memory against subscribers](${name}-fan-out.png)
  `
  }
  ${
    rooms.length === 0
      ? ''
      : `## Many rooms: R rooms held, min(R, ${ACTIVE_ROOMS.toLocaleString('en')}) written to

  ${WRITE_CLIENTS} REST clients, each one add at a time to a random active room, ${WRITE_SECONDS} s. Each row is a fresh
  node on a data dir seeded beforehand through the store API in a separate process
  (\`bench/lib/seed-rooms.ts\`, every tenth room public), its token secret in the data dir's \`secret\`
  file; the node serves the rooms from its own data dir. Eviction: ${roomIdleMs === null ? "the node's default `--room-idle-ms`" : roomIdleMs === 0 ? '`--room-idle-ms 0` (off) and the room index removed, so every room is loaded at start; such a start takes a snapshot with a room index at its first write, which is waited for ("conversion snapshot") before the measured writes' : `\`--room-idle-ms ${roomIdleMs}\``}.
  Memory, after the writes: the node's RSS less the 10-room node's, per room held; rooms loaded
  (\`chorus_rooms_loaded\`) and the V8 heap in use (\`nodejs_heap_size_used_bytes\`, no forced GC)
  from the node's /metrics, and the heap less the 10-room node's per room loaded beyond its. "Room list": one \`GET /v1/rooms?limit=50\` after the writes.

  ${roomsTable}

  ![write latency and memory against rooms](${name}-rooms.png)
  `
  }`;
    await mkdir(options.out, { recursive: true });
    const base = join(options.out, name);
    await writeFile(
      `${base}.json`,
      `${JSON.stringify({ date, machine, durationS, fanOut, rooms }, null, 2)}\n`,
    );
    await writeFile(`${base}.md`, md);
    const common = { width: 420, height: 260, config: { font: 'DejaVu Sans' } } as const;
    const x = (field: string, title: string) => ({
      field,
      type: 'quantitative' as const,
      title,
      scale: { type: 'log' as const },
    });
    const files = [`${base}.md`, `${base}.json`];
    if (fanOut.length > 0) {
      files.push(`${base}-fan-out.png`);
      await render(
        {
          config: { font: 'DejaVu Sans' },
          title: 'Fan-out of one vote against live subscribers (half SSE, half gRPC)',
          hconcat: [
            {
              ...common,
              data: {
                values: fanOut.flatMap((r) => [
                  { subscribers: r.subscribers, ms: r.latency.p50, series: 'p50' },
                  { subscribers: r.subscribers, ms: r.latency.p99, series: 'p99' },
                  { subscribers: r.subscribers, ms: r.lastSubscriber.p99, series: 'last subscriber p99' },
                ]),
              },
              mark: { type: 'line', point: true },
              encoding: {
                x: x('subscribers', 'subscribers'),
                y: { field: 'ms', type: 'quantitative', title: 'latency, ms' },
                color: { field: 'series', type: 'nominal', title: '' },
              },
            },
            {
              ...common,
              data: { values: fanOut.map((r) => ({ subscribers: r.subscribers, mib: r.rssMiB })) },
              mark: { type: 'line', point: true },
              encoding: {
                x: x('subscribers', 'subscribers'),
                y: { field: 'mib', type: 'quantitative', title: 'node RSS, MiB' },
              },
            },
          ],
        },
        `${base}-fan-out.png`,
      );
    }
    if (rooms.length > 0) {
      files.push(`${base}-rooms.png`);
      await render(
        {
          config: { font: 'DejaVu Sans' },
          title: `Writes against rooms held (min(R, ${ACTIVE_ROOMS}) active)`,
          hconcat: [
            {
              ...common,
              data: {
                values: rooms.flatMap((r) => [
                  { rooms: r.rooms, ms: r.latency.p50, series: 'p50' },
                  { rooms: r.rooms, ms: r.latency.p99, series: 'p99' },
                ]),
              },
              mark: { type: 'line', point: true },
              encoding: {
                x: x('rooms', 'rooms'),
                y: { field: 'ms', type: 'quantitative', title: 'write latency, ms' },
                color: { field: 'series', type: 'nominal', title: '' },
              },
            },
            {
              ...common,
              data: { values: rooms.map((r) => ({ rooms: r.rooms, mib: r.rssMiB })) },
              mark: { type: 'line', point: true },
              encoding: {
                x: x('rooms', 'rooms'),
                y: { field: 'mib', type: 'quantitative', title: 'node RSS, MiB' },
              },
            },
          ],
        },
        `${base}-rooms.png`,
      );
    }
    console.error(`\n${fanTable}\n\n${roomsTable}\n`);
    return files;
  };
  try {
    if (parts.includes('fan-out')) {
      await fanOutCurve(points, join(tmp, 'fan-out'), fanOut, report, serve);
    }
    if (parts.includes('rooms')) {
      await roomsCurve(
        [10, 1000, 10_000, 100_000].filter((n) => n <= options.maxRooms),
        join(tmp, 'rooms'),
        roomIdleMs,
        rooms,
        report,
      );
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return report();
}

if (import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      'max-subscribers': { type: 'string', default: '10000' },
      'max-rooms': { type: 'string', default: '100000' },
      out: { type: 'string', default: fileURLToPath(new URL('./results/', import.meta.url)) },
      parts: { type: 'string', default: NODE_SCALE_PARTS.join(',') },
      'room-idle-ms': { type: 'string' },
      points: { type: 'string' },
      'chorus-root': { type: 'string' },
      'cpu-prof': { type: 'string' },
      'heap-snapshots': { type: 'string' },
      label: { type: 'string' },
    },
  });
  const parts = values.parts.split(',').map((p) => p.trim());
  for (const p of parts) {
    if (!(NODE_SCALE_PARTS as readonly string[]).includes(p)) throw new Error(`unknown part ${p}`);
  }
  const files = await runNodeScale({
    parts: parts as NodeScalePart[],
    maxSubscribers: Number(values['max-subscribers']),
    maxRooms: Number(values['max-rooms']),
    out: values.out,
    roomIdleMs: values['room-idle-ms'] === undefined ? null : Number(values['room-idle-ms']),
    ...(values.points === undefined ? {} : { points: values.points.split(',').map(Number) }),
    ...(values['chorus-root'] === undefined ? {} : { chorusRoot: values['chorus-root'] }),
    ...(values['cpu-prof'] === undefined ? {} : { cpuProfDir: values['cpu-prof'] }),
    ...(values['heap-snapshots'] === undefined ? {} : { heapSnapshotDir: values['heap-snapshots'] }),
    ...(values.label === undefined ? {} : { label: values.label }),
  });
  console.log(`results: ${files.join(', ')}`);
}
