// The fault harness (issue 15): real `chorus serve` processes (and redis-server) under a workload
// of concurrent REST clients and a nemesis, every call recorded into a history that the
// linearizability checker (src/verify/checker.ts) judges at the end. `npm run verify -- --help`.
//
// What it does, in order: start the store's servers (Redis with AOF fsync always, a loopback TCP
// fault proxy in front of every node-to-Redis link), the nodes, create the rooms (autoplay off,
// 20-minute tracks: the playback clock never advances a room by itself, which the checker verifies),
// run the clients and the nemesis for --seconds, heal everything, read every room on every node with
// minVersion = the newest version any write was answered with, and check: the history is
// linearizable (every read and write answer explained by one order through `apply`), every node
// holds the same version, and no 5xx other than 503/504 was answered. It stops everything it
// started, on failure and on Ctrl-C too. Outputs go to bench/results/verify/<run>/ (git-ignored):
// history.jsonl, verdict.json and timeline.png.
//
// Reuses the test helpers (startChorus, startRedis, startTcpProxy) rather than copying them.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../src/domain/index.ts';
import { checkHistory, type Verdict } from '../src/verify/checker.ts';
import type {
  FaultWindow,
  HistoryOp,
  ObservedEntry,
  ObservedRoom,
  ObservedValue,
  WriteOutcome,
} from '../src/verify/history.ts';
import { historyLines } from '../src/verify/history.ts';
import { prng } from '../src/verify/simulate.ts';
import { renderTimeline } from './lib/timeline.ts';
import { cleanupChorus, REPO_ROOT, startChorus, type ChorusProcess } from '../test/helpers/chorus-process.ts';
import { startRedis, startTcpProxy, type RedisServer, type TcpProxy } from '../test/helpers/redis-server.ts';

const HELP = `npm run verify -- [options]

Runs real Chorus nodes under concurrent REST clients and a nemesis, records every call, and checks
the history for linearizability (src/verify/checker.ts). Writes history.jsonl, verdict.json and
timeline.png (calls per client over time, faults shaded) under
bench/results/verify/<time>-<store>-seed<N>/. Exits 1 unless the verdict is ok.

  --store memory|redis   the store (memory: one embedded node; its nemesis is kill)   [redis]
  --nodes N              nodes (redis store)                                           [5]
  --seconds S            length of the workload                                        [60]
  --nemesis LIST         comma-separated: kill, pause, partition, redis-restart        [kill,pause,partition]
  --seed N               seed of the workload and the nemesis (random when omitted)
  --rooms N              rooms                                                         [3]
  --clients N            clients per room                                              [3]
  --rate N               operations per second, all clients together (the checker's search
                         grows faster than the history)                               [50]
  --out DIR              output directory                        [bench/results/verify/<run>]
  --help                 this text
`;

/** How long a client waits for an answer: shorter than a pause, so pauses produce unknown calls. */
const CALL_TIMEOUT_MS = 2_000;
const FAULT_MS = 3_000;
const LONG_TRACK_MS = 20 * 60_000;
/** Every node signs and accepts the same tokens. */
const SECRET = 'verify-harness-secret-0123456789abcdef';

interface Node {
  readonly index: number;
  proc: ChorusProcess;
  incarnation: number;
  readonly args: readonly string[];
  readonly proxy: TcpProxy | null;
  readonly dataDir: string | null;
}

interface Client {
  readonly name: string;
  readonly room: string;
  readonly memberId: string;
  readonly token: string;
  readonly isHost: boolean;
  /** The highest version this client has seen: its minVersion reads pass it. */
  seen: number;
}

export interface HarnessOptions {
  readonly store: 'memory' | 'redis';
  readonly nodes: number;
  readonly seconds: number;
  readonly nemesis: readonly string[];
  readonly seed: number;
  readonly rooms: number;
  readonly clients: number;
  /**
   * Operations per second, all clients together (default 50): the checker's search grows faster than
   * the history, so a run on an idle machine must not record ten times what it did on a busy one.
   */
  readonly rate?: number;
  readonly out: string;
  /** Render timeline.png (default true). */
  readonly timeline?: boolean;
}

export interface HarnessResult {
  readonly verdict: Verdict;
  /** Problems found outside the checker (5xx, nodes disagreeing at the end). */
  readonly problems: readonly string[];
  readonly operations: number;
  readonly faults: readonly FaultWindow[];
  readonly out: string;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

export async function runHarness(o: HarnessOptions): Promise<HarnessResult> {
  const random = prng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const ops: HistoryOp[] = [];
  const faults: FaultWindow[] = [];
  const problems: string[] = [];
  let redis: RedisServer | null = null;
  const nodes: Node[] = [];
  const stopping: (() => Promise<unknown>)[] = [];
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  try {
    // ---- start ----
    if (o.store === 'redis') {
      redis = await startRedis({ appendonly: true, appendfsync: 'always' });
      stopping.push(() => redis!.stop());
    }
    const count = o.store === 'memory' ? 1 : o.nodes;
    for (let i = 0; i < count; i++) {
      const proxy = redis ? await startTcpProxy(redis.port) : null;
      if (proxy) stopping.push(() => proxy.close());
      const args = proxy
        ? ['--store', 'redis', '--redis-url', `redis://127.0.0.1:${proxy.port}`, '--secret', SECRET]
        : ['--store', 'memory'];
      const proc = await startChorus({ args: [...args, '--no-legacy'] });
      nodes.push({ index: i, proc, incarnation: 1, args, proxy, dataDir: proc.dataDir });
    }
    stopping.push(async () => {
      for (const n of nodes) {
        n.proc.signal('SIGCONT');
        await n.proc.kill().catch(() => undefined);
      }
    });
    const nodeName = (n: Node): string => `n${n.index}.${n.incarnation}`;

    // ---- one recorded call ----
    const request = async (
      n: Node,
      method: string,
      url: string,
      body: unknown,
      headers: Record<string, string>,
    ): Promise<{ status: number; json: Record<string, unknown> } | { error: string }> => {
      try {
        const res = await fetch(`${n.proc.restUrl}${url}`, {
          method,
          headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        });
        const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
        return { status: res.status, json };
      } catch (err) {
        return { error: (err as Error).name };
      }
    };

    const write = async (
      client: Client | { name: string; room: string; memberId: string; token: string },
      n: Node,
      command: Command,
      http: { method: string; url: string; body: unknown },
      observe: (json: Record<string, unknown>) => {
        value: ObservedValue;
        version: number;
        room?: ObservedRoom;
      },
    ): Promise<Record<string, unknown> | null> => {
      const commandId = `k${ops.length}-${Math.floor(random() * 1e9)}`;
      const invoke = now();
      const reply = await request(n, http.method, http.url, http.body, {
        'idempotency-key': commandId,
        ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
      });
      const complete = now();
      let outcome: WriteOutcome;
      let recorded = command;
      let json: Record<string, unknown> | null = null;
      if ('error' in reply) outcome = { status: 'unknown', reason: reply.error };
      else if (reply.status < 300) {
        json = reply.json;
        const seen = observe(reply.json);
        outcome = {
          status: 'ok',
          version: seen.version,
          value: seen.value,
          ...(seen.room ? { room: seen.room } : {}),
        };
        if (command.type === 'addTrack' && seen.value.type === 'addTrack') {
          recorded = { ...command, entryId: seen.value.entryId };
        }
      } else {
        const code = ((reply.json['error'] as { code?: string } | undefined)?.code ?? 'INTERNAL') as never;
        if (reply.status >= 500 && reply.status !== 503 && reply.status !== 504) {
          problems.push(`HTTP ${reply.status} ${String(code)} for ${http.method} ${http.url}`);
        }
        outcome =
          code === 'UNAVAILABLE'
            ? { status: 'failed', code }
            : reply.status >= 500 || code === 'DEADLINE_EXCEEDED'
              ? { status: 'unknown', reason: String(code) }
              : { status: 'refused', code };
      }
      ops.push({
        kind: 'write',
        id: ops.length,
        client: client.name,
        node: nodeName(n),
        room: client.room,
        invoke,
        complete: outcome.status === 'unknown' ? null : complete,
        commandId,
        actor: client.memberId,
        command: recorded,
        outcome,
      });
      if ('seen' in client && outcome.status === 'ok') client.seen = Math.max(client.seen, outcome.version);
      return json;
    };

    const read = async (client: Client, n: Node, minVersion: number | null, name = client.name) => {
      const invoke = now();
      const q = minVersion === null ? '' : `&minVersion=${minVersion}`;
      const reply = await request(n, 'GET', `/v1/rooms/${client.room}?limit=1000${q}`, undefined, {});
      const complete = now();
      if ('error' in reply || reply.status >= 300) {
        if (!('error' in reply) && reply.status >= 500 && reply.status !== 503 && reply.status !== 504) {
          problems.push(`HTTP ${reply.status} for a read of ${client.room}`);
        }
        return null;
      }
      const room = observedRoom(reply.json);
      ops.push({
        kind: 'read',
        id: ops.length,
        client: name,
        node: nodeName(n),
        room: client.room,
        invoke,
        complete,
        minVersion,
        linearizable: false,
        outcome: { status: 'ok', room },
      });
      client.seen = Math.max(client.seen, room.version);
      return room;
    };

    // ---- set-up: rooms and members, on the first node, before any fault ----
    const clients: Client[] = [];
    const tag = o.seed.toString(36);
    for (let r = 0; r < o.rooms; r++) {
      const room = `verify-${tag}-${r}`;
      const setup = { name: `${room}/setup`, room, memberId: '', token: '' };
      let hostToken = '';
      let hostId = '';
      await write(
        setup,
        nodes[0]!,
        { type: 'createRoom', name: room, hostName: 'Host', settings: { autoplay: false } },
        {
          method: 'POST',
          url: '/v1/rooms',
          body: { roomId: room, name: room, hostName: 'Host', settings: { autoplay: false } },
        },
        (json) => {
          hostId = String(json['memberId']);
          hostToken = String(json['token']);
          return {
            value: { type: 'createRoom', hostId },
            version: (json['room'] as { version: number }).version,
          };
        },
      );
      if (!hostToken) throw new Error(`could not create room ${room}`);
      // The createRoom envelope's actor is the new host.
      const created = ops.at(-1) as HistoryOp & { actor: string | null };
      ops[ops.length - 1] = { ...created, actor: hostId } as HistoryOp;
      clients.push({ name: `${room}/c0`, room, memberId: hostId, token: hostToken, isHost: true, seen: 1 });
      for (let c = 1; c < o.clients; c++) {
        let memberId = '';
        let token = '';
        await write(
          setup,
          nodes[0]!,
          { type: 'join', memberId: '', name: `M${c}` },
          { method: 'POST', url: `/v1/rooms/${room}/members`, body: { name: `M${c}` } },
          (json) => {
            memberId = String(json['memberId']);
            token = String(json['token']);
            return {
              value: { type: 'join', memberId },
              version: (json['room'] as { version: number }).version,
            };
          },
        );
        if (!token) throw new Error(`could not join room ${room}`);
        const joined = ops.at(-1) as HistoryOp & { kind: 'write' };
        ops[ops.length - 1] = { ...joined, actor: null, command: { type: 'join', memberId, name: `M${c}` } };
        clients.push({ name: `${room}/c${c}`, room, memberId, token, isHost: false, seen: 0 });
      }
    }

    // ---- the workload and the nemesis ----
    const deadline = Date.now() + o.seconds * 1000;
    let tracks = 0;
    const known = new Map<string, Set<string>>(); // room -> entry ids seen
    const interval = (clients.length * 1000) / (o.rate ?? 50);
    const runClient = async (client: Client): Promise<void> => {
      const entries = (): string[] => [...(known.get(client.room) ?? [])];
      let nextAt = Date.now();
      while (Date.now() < deadline && !interrupted) {
        const wait = nextAt - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        nextAt = Math.max(nextAt, Date.now()) + interval;
        if (Date.now() >= deadline || interrupted) break;
        const n = pick(nodes);
        const roll = random();
        if (roll < 0.25 || entries().length === 0) {
          const trackId = `vt-${tag}-${tracks++}`;
          const track = { trackId, title: trackId, artist: 'Verify', album: '', durationMs: LONG_TRACK_MS };
          const json = await write(
            client,
            n,
            { type: 'addTrack', entryId: '', track },
            { method: 'POST', url: `/v1/rooms/${client.room}/queue`, body: { track } },
            (j) => {
              const entry = j['entry'] as { entryId: string; position: number } | null;
              return {
                value: { type: 'addTrack', entryId: entry?.entryId ?? '', position: entry?.position ?? null },
                version: Number(j['version']),
              };
            },
          );
          const id = (json?.['entry'] as { entryId?: string } | null)?.entryId;
          if (id) known.set(client.room, new Set([...entries(), id]));
        } else if (roll < 0.55) {
          const entryId = pick(entries());
          const value = pick([1, -1, 0] as const);
          await write(
            client,
            n,
            { type: 'vote', entryId, value },
            { method: 'PUT', url: `/v1/rooms/${client.room}/queue/${entryId}/vote`, body: { value } },
            (j) => ({
              value: {
                type: 'vote',
                entryId,
                ups: Number(j['ups']),
                downs: Number(j['downs']),
                effect: j['effect'] as 'none',
                position: (j['position'] as number | null) ?? null,
              },
              version: Number(j['version']),
            }),
          );
        } else if (roll < 0.65) {
          const entryId = pick(entries());
          await write(
            client,
            n,
            { type: 'removeEntry', entryId },
            { method: 'DELETE', url: `/v1/rooms/${client.room}/queue/${entryId}`, body: undefined },
            (j) => ({ value: { type: 'removeEntry', entryId }, version: Number(j['version']) }),
          );
        } else if (roll < 0.7 && client.isHost) {
          const room = await read(client, n, client.seen);
          const expected = room?.nowPlaying?.entryId ?? null;
          await write(
            client,
            n,
            { type: 'advance', expectedEntryId: expected, reason: 'skipped' },
            { method: 'POST', url: `/v1/rooms/${client.room}/advance`, body: { expectedEntryId: expected } },
            (j) => {
              const r = j['room'] as Record<string, unknown>;
              return {
                value: {
                  type: 'advance',
                  advanced: Boolean(j['advanced']),
                  endedEntryId: (j['ended'] as { entryId: string } | null)?.entryId ?? null,
                  nowPlayingEntryId: (r['nowPlaying'] as { entryId: string } | null)?.entryId ?? null,
                },
                version: Number(r['version']),
              };
            },
          );
        } else {
          const room = await read(client, n, random() < 0.5 ? client.seen : null);
          if (room) {
            const ids = [...room.queue, room.nowPlaying].flatMap((e) => (e ? [e.entryId] : []));
            known.set(client.room, new Set([...entries(), ...ids]));
          }
        }
      }
    };

    const nemesis = async (): Promise<void> => {
      const kinds = o.store === 'memory' ? o.nemesis.filter((k) => k === 'kill') : o.nemesis;
      if (kinds.length === 0) return;
      await sleep(2_000);
      while (Date.now() + FAULT_MS + 2_000 < deadline && !interrupted) {
        const kind = pick(kinds);
        const n = pick(nodes);
        const start = now();
        if (kind === 'kill') {
          await n.proc.kill();
          await sleep(500);
          n.proc = await startChorus({ args: [...n.args, '--no-legacy'], dataDir: n.dataDir });
          n.incarnation++;
        } else if (kind === 'pause') {
          n.proc.signal('SIGSTOP');
          await sleep(FAULT_MS);
          n.proc.signal('SIGCONT');
        } else if (kind === 'partition' && n.proxy) {
          n.proxy.cut();
          await sleep(FAULT_MS);
          n.proxy.restore();
        } else if (kind === 'redis-restart' && redis) {
          await redis.restart({ signal: 'SIGKILL' });
        }
        faults.push({ kind, target: kind === 'redis-restart' ? 'redis' : `n${n.index}`, start, end: now() });
        await sleep(1_000 + random() * 2_000);
      }
    };
    await Promise.all([...clients.map(runClient), nemesis()]);

    // ---- heal, wait, read every room on every node ----
    for (const n of nodes) {
      n.proc.signal('SIGCONT');
      n.proxy?.restore();
    }
    for (const host of clients.filter((c) => c.isHost)) {
      const acked = Math.max(
        ...ops.flatMap((op) =>
          op.room === host.room && op.kind === 'write' && op.outcome.status === 'ok'
            ? [op.outcome.version]
            : [],
        ),
      );
      const versions = new Set<number>();
      for (const n of nodes) {
        let room: ObservedRoom | null = null;
        for (let tries = 0; tries < 20 && room === null; tries++) {
          room = await read(host, n, acked, `${host.room}/final`);
          if (room === null) await sleep(500);
        }
        if (room === null)
          problems.push(`node n${n.index} never answered room ${host.room} at version ${acked}`);
        else versions.add(room.version);
      }
      if (versions.size > 1)
        problems.push(`room ${host.room}: the nodes hold versions ${[...versions].join(', ')}`);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    for (const stop of stopping.reverse()) await stop().catch(() => undefined);
    await cleanupChorus();
  }

  const verdict = checkHistory(ops, { timeoutMs: 120_000 });
  mkdirSync(o.out, { recursive: true });
  writeFileSync(path.join(o.out, 'history.jsonl'), historyLines(ops, faults));
  const summary = { options: o, verdict, problems, faults, operations: ops.length };
  writeFileSync(path.join(o.out, 'verdict.json'), `${JSON.stringify(summary, null, 2)}\n`);
  if (o.timeline !== false) await renderTimeline(ops, faults, path.join(o.out, 'timeline.png'));
  return { verdict, problems, operations: ops.length, faults, out: o.out };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function observedEntry(e: Record<string, unknown> | null | undefined): ObservedEntry | null {
  if (!e) return null;
  return {
    entryId: String(e['entryId']),
    trackId: String((e['track'] as { trackId: string }).trackId),
    ups: Number(e['ups']),
    downs: Number(e['downs']),
  };
}

/** The fields of a REST room view that the checker compares. */
export function observedRoom(view: Record<string, unknown>): ObservedRoom {
  return {
    version: Number(view['version']),
    locked: Boolean(view['locked']),
    playCount: Number(view['playCount']),
    memberCount: Number(view['memberCount']),
    queueLength: Number(view['queueLength']),
    queue: (view['queue'] as Record<string, unknown>[]).map((e) => observedEntry(e)!),
    nowPlaying: observedEntry(view['nowPlaying'] as Record<string, unknown> | null),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      store: { type: 'string', default: 'redis' },
      nodes: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '60' },
      nemesis: { type: 'string', default: 'kill,pause,partition' },
      seed: { type: 'string' },
      rooms: { type: 'string', default: '3' },
      clients: { type: 'string', default: '3' },
      rate: { type: 'string', default: '50' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const store = values.store === 'memory' ? 'memory' : 'redis';
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 1e9);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const out =
    values.out ?? path.join(REPO_ROOT, 'bench', 'results', 'verify', `${stamp}-${store}-seed${seed}`);
  console.log(`verify: store ${store}, seed ${seed}, output ${out}`);
  const result = await runHarness({
    store,
    nodes: Number(values.nodes),
    seconds: Number(values.seconds),
    nemesis: values.nemesis.split(',').filter(Boolean),
    seed,
    rooms: Number(values.rooms),
    clients: Number(values.clients),
    rate: Number(values.rate),
    out,
  });
  console.log(
    `verify: ${result.operations} operations, ${result.faults.length} faults; verdict ${result.verdict.result} ` +
      `(checked in ${result.verdict.elapsedMs} ms)`,
  );
  for (const r of result.verdict.rooms)
    if (r.result !== 'ok') console.log(`  ${r.room}: ${r.result}: ${r.reason}`);
  for (const v of result.verdict.violations) console.log(`  ${v}`);
  for (const p of result.problems) console.log(`  ${p}`);
  if (result.verdict.result !== 'ok' || result.problems.length > 0) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
