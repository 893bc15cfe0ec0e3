// The fault harness (issue 15): real `chorus serve` processes (and redis-server) under a workload
// of concurrent clients, half over REST and half over gRPC, and a nemesis, every call recorded into
// a history that the linearizability checker (src/verify/checker.ts) judges at the end.
// `npm run verify -- --help`.
//
// What it does, in order: start the store's processes with a loopback TCP fault proxy on every link
// between them (node to Redis; in a Raft or 2PC group, node i to node j for every pair: see
// lib/verify-cluster.ts), create the rooms (autoplay off, 20-minute tracks: the playback clock never
// advances a room by itself, which the checker verifies), run the clients and the nemesis for
// --seconds, heal everything, read every room on every node until all hold the same version (at
// least the newest any write was answered with), and check: the history is linearizable (every
// read and write answer explained by one order through `apply`; Raft's linearizable reads are
// operations of that order), every node holds the same version, and no 5xx other than 503/504 (no
// gRPC status other than UNAVAILABLE/DEADLINE_EXCEEDED) was answered. It stops everything it
// started, on failure and on Ctrl-C too. Outputs go to bench/results/verify/<run>/: history.jsonl,
// verdict.json and timeline.png.

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
import {
  GrpcChannels,
  send,
  type Call,
  type CallContext,
  type Reply,
  type Target,
  type Transport,
} from './lib/verify-calls.ts';
import {
  startVerifyCluster,
  type VerifyCluster,
  type VerifyNode,
  type VerifyStore,
} from './lib/verify-cluster.ts';
import { cleanupChorus, REPO_ROOT } from '../test/helpers/chorus-process.ts';

const HELP = `npm run verify -- [options]

Runs real Chorus nodes under concurrent clients (half REST, half gRPC) and a nemesis, records every
call, and checks the history for linearizability (src/verify/checker.ts). Writes history.jsonl,
verdict.json and timeline.png (calls per client over time, faults shaded) under
bench/results/verify/<time>-<store>-seed<N>/. Exits 1 unless the verdict is ok.

  --store memory|redis|raft|2pc  the store (memory: one embedded node)                 [redis]
  --nodes N              nodes (redis, raft, 2pc)                                      [5]
  --seconds S            length of the workload                                        [60]
  --nemesis LIST         comma-separated, any of: kill (SIGKILL, restart), pause (SIGSTOP
                         3 s, 2pc 7 s: a second past the client timeout), partition (cut or
                         black-hole a minority's links), slow (50-500 ms per chunk on a
                         node's links), redis-restart (redis only)                    [kill,pause,partition]
                         memory: kill only
  --target T             whom a fault hits in a group: leader, random or mixed         [mixed]
  --seed N               seed of the workload and the nemesis (random when omitted)
  --rooms N              rooms                                                         [3]
  --clients N            clients per room                                              [3]
  --rate N               operations per second, all clients together (the checker's search
                         grows faster than the history)                               [50]
  --rest-only            no gRPC clients
  --out DIR              output directory                        [bench/results/verify/<run>]
  --help                 this text
`;

/**
 * How long a client waits for an answer, by store: a pause lasts a second longer, so pauses produce
 * unknown calls. Two-phase commit writes in one room queue behind its lock (a locked room votes NO
 * and the coordinator retries with backoff): on a loaded 2-core machine a tenth of them took over
 * 1.6 s, so 2 s left most of the history unknown and the checker out of time.
 */
const CALL_TIMEOUT_MS: Record<VerifyStore, number> = {
  memory: 2_000,
  redis: 2_000,
  raft: 2_000,
  '2pc': 6_000,
};
const FAULT_MS = 3_000;
const LONG_TRACK_MS = 20 * 60_000;

/** The nemeses each store can be given. */
const NEMESES: Record<VerifyStore, readonly string[]> = {
  memory: ['kill'],
  redis: ['kill', 'pause', 'partition', 'slow', 'redis-restart'],
  raft: ['kill', 'pause', 'partition', 'slow'],
  '2pc': ['kill', 'pause', 'partition', 'slow'],
};

interface Client {
  readonly name: string;
  readonly room: string;
  readonly memberId: string;
  readonly token: string;
  readonly isHost: boolean;
  readonly transport: Transport;
  /** The highest version this client has seen: its minVersion reads pass it. */
  seen: number;
}

export interface HarnessOptions {
  readonly store: VerifyStore;
  readonly nodes: number;
  readonly seconds: number;
  readonly nemesis: readonly string[];
  /** Whom faults hit in a group: its leader, a random node, or either (default mixed). */
  readonly target?: 'leader' | 'random' | 'mixed';
  readonly seed: number;
  readonly rooms: number;
  readonly clients: number;
  /**
   * Operations per second, all clients together (default 50): the checker's search grows faster than
   * the history, so a run on an idle machine must not record ten times what it did on a busy one.
   */
  readonly rate?: number;
  /** Half the clients over gRPC (default true). */
  readonly grpc?: boolean;
  readonly out: string;
  /** Render timeline.png (default true). */
  readonly timeline?: boolean;
  /**
   * Run on this cluster (of `store`, healthy) and leave it running, instead of starting and stopping
   * one: the CI runs share one cluster between seeds, as starting 3 nodes takes 20 s on a loaded machine.
   */
  readonly cluster?: VerifyCluster;
}

export interface HarnessResult {
  readonly verdict: Verdict;
  /** Problems found outside the checker (5xx, nodes disagreeing at the end). */
  readonly problems: readonly string[];
  readonly operations: number;
  readonly faults: readonly FaultWindow[];
  /** Answered calls by transport, and the linearizable reads among them. */
  readonly answered: { readonly rest: number; readonly grpc: number; readonly linearizableReads: number };
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
  const channels = new GrpcChannels();
  const answered = { rest: 0, grpc: 0, linearizableReads: 0 };
  let cluster: VerifyCluster | null = null;
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  try {
    // ---- start ----
    cluster = o.cluster ?? (await startVerifyCluster(o.store, o.nodes));
    const c = cluster;
    const nodes = c.nodes;
    const group = o.store === 'raft' || o.store === '2pc';
    if (group) {
      const notReady = await c.waitReady(120_000);
      if (notReady.length > 0) throw new Error(`the group never became ready: ${notReady.join(', ')}`);
    }
    const callTimeoutMs = CALL_TIMEOUT_MS[o.store];
    const pauseMs = Math.max(FAULT_MS, callTimeoutMs + 1_000);
    const nodeName = (n: VerifyNode): string => `${n.id}.${n.incarnation}`;
    const target = (n: VerifyNode): Target => ({
      restUrl: n.proc.restUrl,
      grpcAddress: n.proc.grpcAddress ?? `127.0.0.1:${n.grpcPort}`,
    });

    /** Sends one call and files 5xx answers other than 503/504 as problems. */
    const exchange = async (
      transport: Transport,
      n: VerifyNode,
      ctx: CallContext,
      call: Call,
    ): Promise<Reply> => {
      const reply = await send(transport, target(n), channels, ctx, call);
      if ('status' in reply) {
        answered[transport]++;
        if (call.op === 'read' && call.linearizable && reply.status < 300) answered.linearizableReads++;
      }
      if ('status' in reply && reply.status >= 500 && reply.status !== 503 && reply.status !== 504) {
        const code = (reply.json['error'] as { code?: string } | undefined)?.code ?? '?';
        problems.push(`${transport} ${call.op} on ${nodeName(n)}: HTTP ${reply.status} ${code}`);
      }
      return reply;
    };

    const write = async (
      client: Client,
      n: VerifyNode,
      command: Command,
      call: Call,
      observe: (json: Record<string, unknown>) => {
        value: ObservedValue;
        version: number;
        room?: ObservedRoom;
      },
    ): Promise<Record<string, unknown> | null> => {
      const commandId = `k${ops.length}-${Math.floor(random() * 1e9)}`;
      const invoke = now();
      const ctx = { room: client.room, token: client.token, key: commandId, timeoutMs: callTimeoutMs };
      const reply = await exchange(client.transport, n, ctx, call);
      const complete = now();
      let outcome: WriteOutcome;
      let recorded = command;
      let json: Record<string, unknown> | null = null;
      if ('error' in reply) {
        outcome = reply.refused
          ? { status: 'failed', code: 'UNAVAILABLE' }
          : { status: 'unknown', reason: reply.error };
      } else if (reply.status < 300) {
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
      } else if (!(reply.json['error'] as { code?: string } | undefined)?.code) {
        // Outside the error contract (every error is {"error":{"code",…}}): say so, decide nothing.
        problems.push(
          `${client.transport} ${call.op} on ${nodeName(n)}: HTTP ${reply.status} without an error code`,
        );
        outcome = { status: 'unknown', reason: `HTTP ${reply.status}` };
      } else {
        const error = reply.json['error'] as { code: string; details?: { reason?: string } };
        const code = error.code as never;
        // The store could not order it (UNAVAILABLE; 2PC's ABORTED after losing its lock races):
        // nothing was applied. ABORTED "in progress" means another call runs the same write.
        const notOrdered =
          code === 'UNAVAILABLE' ||
          (code === 'ABORTED' && error.details?.reason !== 'TWOPC_WRITE_IN_PROGRESS');
        outcome = notOrdered
          ? { status: 'failed', code }
          : code === 'ABORTED'
            ? { status: 'unknown', reason: 'ABORTED in progress' }
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
      if (outcome.status === 'ok') client.seen = Math.max(client.seen, outcome.version);
      return json;
    };

    const read = async (
      client: Client,
      n: VerifyNode,
      minVersion: number | null,
      linearizable = false,
      name = client.name,
    ): Promise<ObservedRoom | null> => {
      const invoke = now();
      const ctx = { room: client.room, token: '', key: null, timeoutMs: callTimeoutMs };
      const reply = await exchange(client.transport, n, ctx, { op: 'read', minVersion, linearizable });
      const complete = now();
      if ('error' in reply || reply.status >= 300) return null;
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
        linearizable,
        outcome: { status: 'ok', room },
      });
      client.seen = Math.max(client.seen, room.version);
      return room;
    };

    // ---- set-up: rooms and members, over REST on the first node, before any fault ----
    const clients: Client[] = [];
    const tag = o.seed.toString(36);
    const setupCall = async (
      path: string,
      body: unknown,
      key: string,
    ): Promise<{ memberId: string; token: string; version: number } | null> => {
      // Retried with the same key (applied once): a group may still be settling its first leader.
      for (let attempt = 0; attempt < 20; attempt++) {
        const reply = await fetch(`${nodes[0]!.proc.restUrl}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        })
          .then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }))
          .catch(() => null);
        if (reply && reply.status < 300) {
          return {
            memberId: String(reply.json['memberId']),
            token: String(reply.json['token']),
            version: (reply.json['room'] as { version: number }).version,
          };
        }
        await sleep(500);
      }
      return null;
    };
    for (let r = 0; r < o.rooms; r++) {
      const room = `verify-${tag}-${r}`;
      const setup = { name: `${room}/setup` };
      const invoke = now();
      const host = await setupCall(
        '/v1/rooms',
        { roomId: room, name: room, hostName: 'Host', settings: { autoplay: false } },
        `setup-${room}`,
      );
      if (!host) throw new Error(`could not create room ${room}`);
      ops.push({
        kind: 'write',
        id: ops.length,
        client: setup.name,
        node: nodeName(nodes[0]!),
        room,
        invoke,
        complete: now(),
        commandId: `setup-${room}`,
        actor: host.memberId,
        command: { type: 'createRoom', name: room, hostName: 'Host', settings: { autoplay: false } },
        outcome: {
          status: 'ok',
          version: host.version,
          value: { type: 'createRoom', hostId: host.memberId },
        },
      });
      clients.push({
        name: `${room}/c0`,
        room,
        memberId: host.memberId,
        token: host.token,
        isHost: true,
        seen: 1,
        transport: 'rest',
      });
      for (let k = 1; k < o.clients; k++) {
        const joinAt = now();
        const joined = await setupCall(`/v1/rooms/${room}/members`, { name: `M${k}` }, `setup-${room}-${k}`);
        if (!joined) throw new Error(`could not join room ${room}`);
        ops.push({
          kind: 'write',
          id: ops.length,
          client: setup.name,
          node: nodeName(nodes[0]!),
          room,
          invoke: joinAt,
          complete: now(),
          commandId: `setup-${room}-${k}`,
          actor: null,
          command: { type: 'join', memberId: joined.memberId, name: `M${k}` },
          outcome: {
            status: 'ok',
            version: joined.version,
            value: { type: 'join', memberId: joined.memberId },
          },
        });
        clients.push({
          name: `${room}/c${k}`,
          room,
          memberId: joined.memberId,
          token: joined.token,
          isHost: false,
          seen: 0,
          // Half the clients speak gRPC (the host stays on REST).
          transport: o.grpc !== false && k % 2 === 1 ? 'grpc' : 'rest',
        });
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
        if (wait > 0) await sleep(wait);
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
            { op: 'add', track },
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
          await write(client, n, { type: 'vote', entryId, value }, { op: 'vote', entryId, value }, (j) => ({
            value: {
              type: 'vote',
              entryId,
              ups: Number(j['ups']),
              downs: Number(j['downs']),
              effect: j['effect'] as 'none',
              position: (j['position'] as number | null) ?? null,
            },
            version: Number(j['version']),
          }));
        } else if (roll < 0.65) {
          const entryId = pick(entries());
          await write(client, n, { type: 'removeEntry', entryId }, { op: 'remove', entryId }, (j) => ({
            value: { type: 'removeEntry', entryId },
            version: Number(j['version']),
          }));
        } else if (roll < 0.7 && client.isHost) {
          const room = await read(client, n, client.seen);
          const expected = room?.nowPlaying?.entryId ?? null;
          await write(
            client,
            n,
            { type: 'advance', expectedEntryId: expected, reason: 'skipped' },
            { op: 'advance', expected },
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
          // Reads: plain, minVersion (the client's last seen version) and, where the store offers
          // them, linearizable.
          const kind = random();
          const linearizable = o.store === 'raft' && kind < 0.35;
          const room = await read(client, n, linearizable || kind < 0.65 ? null : client.seen, linearizable);
          if (room) {
            const ids = [...room.queue, room.nowPlaying].flatMap((e) => (e ? [e.entryId] : []));
            known.set(client.room, new Set([...entries(), ...ids]));
          }
        }
      }
    };

    // The nemesis draws from its own stream, so a seed names the same faults whatever the clients did.
    const faultRandom = prng(o.seed ^ 0x5eed);
    const faultPick = <T>(xs: readonly T[]): T => xs[Math.floor(faultRandom() * xs.length)]!;
    const nemesis = async (): Promise<void> => {
      const kinds = o.nemesis.filter((k) => NEMESES[o.store].includes(k));
      if (kinds.length === 0) return;
      await sleep(2_000);
      while (Date.now() + FAULT_MS + 2_000 < deadline && !interrupted) {
        const kind = faultPick(kinds);
        const aimAtLeader = o.target === 'leader' || (o.target !== 'random' && faultRandom() < 0.5);
        const leader = group && aimAtLeader ? await c.leader() : null;
        const someNode = faultPick(nodes); // drawn either way: the stream stays the seed's
        const n = leader ?? someNode;
        const start = now();
        let label = leader ? `${n.id} (leader)` : n.id;
        if (kind === 'kill') {
          await c.restart(n, 500);
        } else if (kind === 'pause') {
          n.proc.signal('SIGSTOP');
          await sleep(pauseMs);
          n.proc.signal('SIGCONT');
        } else if (kind === 'partition') {
          const mode = faultRandom() < 0.5 ? 'cut' : 'blackhole';
          // The target alone, or (5 nodes and more) with one more: a minority either way.
          const side = [n];
          const second = faultPick(nodes.filter((x) => x !== n));
          if (group && nodes.length >= 5 && faultRandom() < 0.5) side.push(second);
          c.partition(side, mode);
          label = `${side.map((x) => x.id).join('+')}${leader ? ' (leader)' : ''} ${mode} from ${group ? 'the rest' : 'redis'}`;
          await sleep(FAULT_MS);
          c.heal();
        } else if (kind === 'slow') {
          const ms = 50 + Math.floor(faultRandom() * 450);
          c.slow(n, ms);
          label = `${label} +${ms} ms per chunk`;
          await sleep(FAULT_MS);
          c.heal();
        } else if (kind === 'redis-restart' && c.redis) {
          await c.redis.restart({ signal: 'SIGKILL' });
          label = 'redis';
        }
        faults.push({ kind, target: label, start, end: now() });
        await sleep(1_000 + faultRandom() * 2_000);
      }
    };
    await Promise.all([...clients.map(runClient), nemesis()]);

    // ---- heal, wait, read every room on every node ----
    c.heal();
    if (group) {
      const notReady = await c.waitReady(60_000);
      if (notReady.length > 0) problems.push(`not ready 60 s after healing: ${notReady.join(', ')}`);
    }
    for (const host of clients.filter((x) => x.isHost)) {
      const final = { ...host, transport: 'rest' as const };
      let target = Math.max(
        ...ops.flatMap((op) =>
          op.room === host.room && op.kind === 'write' && op.outcome.status === 'ok'
            ? [op.outcome.version]
            : [],
        ),
      );
      // Read every node at the newest version any node has reached, until they all hold the same
      // one (an unanswered write may still land after the run: then every node must show it).
      const until = Date.now() + 60_000;
      let versions: (number | null)[] = [];
      for (;;) {
        versions = [];
        for (const n of nodes)
          versions.push((await read(final, n, target, false, `${host.room}/final`))?.version ?? null);
        const reached = versions.filter((v): v is number => v !== null);
        if (reached.length === nodes.length && new Set(reached).size === 1) break;
        if (Date.now() > until) break;
        target = Math.max(target, ...reached);
        await sleep(300);
      }
      if (versions.some((v) => v === null))
        problems.push(`room ${host.room}: nodes never answered at version ${target}: ${versions.join(', ')}`);
      else if (new Set(versions).size > 1)
        problems.push(`room ${host.room}: the nodes hold versions ${versions.join(', ')}`);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    channels.close();
    if (!o.cluster) {
      await cluster?.stop();
      await cleanupChorus();
    }
  }

  const verdict = checkHistory(ops, { timeoutMs: 120_000 });
  mkdirSync(o.out, { recursive: true });
  writeFileSync(path.join(o.out, 'history.jsonl'), historyLines(ops, faults));
  const { cluster: _shared, ...options } = o;
  const summary = { options, verdict, problems, faults, operations: ops.length, answered };
  writeFileSync(path.join(o.out, 'verdict.json'), `${JSON.stringify(summary, null, 2)}\n`);
  if (o.timeline !== false) await renderTimeline(ops, faults, path.join(o.out, 'timeline.png'));
  return { verdict, problems, operations: ops.length, faults, answered, out: o.out };
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
      target: { type: 'string', default: 'mixed' },
      'rest-only': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const stores: readonly VerifyStore[] = ['memory', 'redis', 'raft', '2pc'];
  const store = stores.find((x) => x === values.store);
  if (!store) throw new Error(`--store must be one of ${stores.join(', ')}`);
  const target = values.target;
  if (target !== 'leader' && target !== 'random' && target !== 'mixed')
    throw new Error('--target must be leader, random or mixed');
  const unknownNemesis = values.nemesis.split(',').filter((k) => k && !NEMESES[store].includes(k));
  if (unknownNemesis.length > 0)
    throw new Error(`--nemesis ${unknownNemesis.join(',')}: ${store} takes ${NEMESES[store].join(', ')}`);
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
    target,
    grpc: !values['rest-only'],
    out,
  });
  console.log(
    `verify: ${result.operations} operations (answered: ${JSON.stringify(result.answered)}), ` +
      `${result.faults.length} faults; verdict ${result.verdict.result} ` +
      `(checked in ${result.verdict.elapsedMs} ms)`,
  );
  for (const r of result.verdict.rooms)
    if (r.result !== 'ok') console.log(`  ${r.room}: ${r.result}: ${r.reason}`);
  for (const v of result.verdict.violations) console.log(`  ${v}`);
  for (const p of result.problems) console.log(`  ${p}`);
  if (result.verdict.result !== 'ok' || result.problems.length > 0) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
