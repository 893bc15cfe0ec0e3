// HTTP load with autocannon: per-request latency from its histogram, every non-2xx counted, and
// what the server acknowledged recorded so the run can check nothing acknowledged was lost.

import autocannon from 'autocannon';
import http from 'node:http';
import { drive, prng, withCpu, type LoadResult } from './stats.ts';
import type { BenchRoom, Workload } from './workload.ts';
import { request, type Answer } from './write-load.ts';

interface Counts {
  ok: number;
  refused: number;
  failed: number;
}

function summarise(result: autocannon.Result, counts: Counts, cpuPct: number, wallS: number): LoadResult {
  const failed = counts.failed + result.errors + result.timeouts;
  const requests = counts.ok + counts.refused + failed;
  return {
    requests,
    ok: counts.ok,
    refused: counts.refused,
    failed,
    // autocannon's own duration is coarse for short runs (200 requests); the wall clock is not.
    durationS: wallS,
    throughput: counts.ok / wallS,
    latency: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.average,
    },
    generatorCpuPct: cpuPct,
  };
}

function count(counts: Counts, status: number): void {
  if (status >= 200 && status < 300) counts.ok++;
  else if (status >= 400 && status < 500) counts.refused++;
  else counts.failed++;
}

async function run(options: autocannon.Options, counts: Counts): Promise<LoadResult> {
  const { value, cpuPct, wallS } = await withCpu(
    () =>
      new Promise<autocannon.Result>((resolve, reject) => {
        autocannon(options, (err, result) =>
          err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(result),
        );
      }),
  );
  return summarise(value, counts, cpuPct, wallS);
}

const ECHO_BODY = JSON.stringify({
  track: { trackId: 'echo', title: 'Echo', artist: 'Bench', album: '', durationMs: 180000 },
});

type Op = { kind: 'vote' | 'add' | 'read' | 'remove'; room: BenchRoom; entryId?: string };

/** Saturation: a fixed duration of mixed load (votes 60%, adds 20%, reads 15%, removes 5%). */
export async function restMixed(o: {
  url: string;
  rooms: readonly BenchRoom[];
  durationS: number;
  connections: number;
  workload: Workload;
  seed: number;
}): Promise<LoadResult> {
  const counts: Counts = { ok: 0, refused: 0, failed: 0 };
  let connection = 0;
  return run(
    {
      url: o.url,
      connections: o.connections,
      duration: o.durationS,
      timeout: 10,
      requests: [
        {
          setupRequest: (req, ctx) => {
            const context = ctx as Record<string, unknown>;
            // Per-connection state: its own PRNG and the entries it added (only those it removes).
            context['random'] ??= prng(o.seed + connection++);
            const random = context['random'] as () => number;
            const r = req as Record<string, unknown>;
            const op = o.workload.pick(random);
            context['op'] = op;
            const base = `/v1/rooms/${op.room.id}`;
            const token = op.room.tokens[Math.floor(random() * op.room.tokens.length)]!;
            const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
            switch (op.kind) {
              case 'vote':
                Object.assign(r, {
                  method: 'PUT',
                  path: `${base}/queue/${op.entryId}/vote`,
                  headers,
                  body: JSON.stringify({ value: [1, -1, 0][Math.floor(random() * 3)] }),
                });
                break;
              case 'add':
                Object.assign(r, {
                  method: 'POST',
                  path: `${base}/queue`,
                  headers,
                  body: JSON.stringify({ track: o.workload.newTrack() }),
                });
                break;
              case 'remove':
                // Removed as the room's host, who may remove any entry. Recorded before sending: a
                // request cut off when the run ends may still have been applied.
                o.workload.attemptRemove(op.room.id, op.entryId);
                Object.assign(r, {
                  method: 'DELETE',
                  path: `${base}/queue/${op.entryId}`,
                  headers: { authorization: `Bearer ${op.room.hostToken}` },
                  body: undefined,
                });
                break;
              case 'read':
                Object.assign(r, { method: 'GET', path: `${base}?limit=20`, headers: {}, body: undefined });
                break;
            }
            return req;
          },
          onResponse: (status, body, ctx) => {
            const context = ctx as Record<string, unknown>;
            count(counts, status);
            const op = context['op'] as Op;
            if (op.kind === 'add' && status === 201)
              o.workload.ackAdd(
                op.room.id,
                JSON.parse(body) as { entry: { entryId: string; track: { trackId: string } } | null },
              );
            if (op.kind === 'remove' && status === 200) o.workload.ackRemove(op.room.id, op.entryId!);
          },
        },
      ],
    },
    counts,
  );
}

/** The ceiling: the same shape of request (a JSON POST of a track) to a bare echo server. */
/** The saturation ceiling: a fixed duration of the same POSTs to a bare echo server. */
export async function restEcho(o: {
  url: string;
  connections: number;
  durationS: number;
}): Promise<LoadResult> {
  const counts: Counts = { ok: 0, refused: 0, failed: 0 };
  const body = ECHO_BODY;
  return run(
    {
      url: o.url,
      connections: o.connections,
      duration: o.durationS,
      timeout: 10,
      requests: [
        {
          method: 'POST',
          path: '/v1/echo',
          headers: { 'content-type': 'application/json', authorization: 'Bearer echo' },
          body,
          onResponse: (status) => count(counts, status),
        },
      ],
    },
    counts,
  );
}

/**
 * Short runs of `amount` POSTs (the earlier experiment's 200 requests) with our own timing:
 * autocannon notices the end of an `amount` run only on its one-second tick, which would cap any
 * 200-request run near 200/s. Keep-alive connections, one per client, each request timed alone.
 */
async function timedPosts(o: {
  url: string;
  path: string;
  amount: number;
  connections: number;
  body: () => string;
  token: (index: number) => string;
  onCreated?: (text: string) => void;
}): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const target = new URL(o.path, o.url);
  try {
    return await drive({
      concurrency: o.connections,
      amount: o.amount,
      seed: 1,
      call: async (index) => {
        const { status, text } = await post(agent, target, o.body(), o.token(index));
        if (status === 201) o.onCreated?.(text);
        return status >= 200 && status < 300 ? 'ok' : status >= 400 && status < 500 ? 'refused' : 'failed';
      },
    });
  } finally {
    agent.destroy();
  }
}

/** The earlier experiment: `amount` add-track requests (unique tracks) over `connections` clients. */
export function restAdds(o: {
  url: string;
  room: BenchRoom;
  amount: number;
  connections: number;
  workload: Workload;
}): Promise<LoadResult> {
  return timedPosts({
    url: o.url,
    path: `/v1/rooms/${o.room.id}/queue`,
    amount: o.amount,
    connections: o.connections,
    body: () => JSON.stringify({ track: o.workload.newTrack() }),
    token: (i) => o.room.tokens[i % o.room.tokens.length]!,
    onCreated: (text) => o.workload.ackAdd(o.room.id, JSON.parse(text) as AddAnswer),
  });
}

/** The experiment's ceiling: the same POSTs to a bare echo server. */
export function restEchoPosts(o: { url: string; amount: number; connections: number }): Promise<LoadResult> {
  return timedPosts({
    url: o.url,
    path: '/v1/echo',
    amount: o.amount,
    connections: o.connections,
    body: () => ECHO_BODY,
    token: () => 'echo',
  });
}

type AddAnswer = { entry: { entryId: string; track: { trackId: string } } | null };

function post(agent: http.Agent, url: URL, body: string, token: string): Promise<Answer> {
  return request(agent, url, 'POST', body, {
    'content-type': 'application/json',
    authorization: `Bearer ${token}`,
  });
}
