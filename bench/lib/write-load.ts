// Write load for the group benchmarks: `concurrency` clients, each with its own keep-alive
// connection, each sending one write at a time to "its" node (clients spread round-robin over the
// nodes), every request timed alone. The same driver sends Chorus add-track requests and etcd puts,
// so both sides of a ratio see the same client. A client whose node refuses the connection moves
// to the next node (as a client with a list of endpoints does); a failed write is retried after
// a short pause, never in a hot loop.

import http from 'node:http';
import { latencyOf, withCpu, type LoadResult, type Outcome } from './stats.ts';
import type { BenchRoom, Workload } from './workload.ts';

export interface Answer {
  readonly status: number;
  readonly text: string;
}

/** One HTTP request that never throws: status 0 for a refused connection, a reset or a timeout. */
export function request(
  agent: http.Agent,
  url: URL,
  method: string,
  body: string | null,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: body === null ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', () => resolve({ status: 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.end(body ?? undefined);
  });
}

/** What one client does per write: its request and what the answer means. */
export type WriteCall = (agent: http.Agent, node: string, client: number, seq: number) => Promise<Answer>;

export interface WriteEvent {
  readonly client: number;
  /** performance.now() when the request was sent and when its answer arrived. */
  readonly sentAt: number;
  readonly doneAt: number;
  readonly outcome: Outcome;
}

export interface WriteLoadOptions {
  readonly concurrency: number;
  /** The nodes' base URLs, read again before each request (a restarted node has a new one). */
  readonly nodes: () => readonly string[];
  readonly call: WriteCall;
  /** Stop after this many seconds, or when `stopped()` says so, whichever first. */
  readonly durationS?: number;
  readonly stopped?: () => boolean;
  readonly onEvent?: (event: WriteEvent) => void;
}

const classify = (status: number): Outcome =>
  status >= 200 && status < 300 ? 'ok' : status >= 400 && status < 500 ? 'refused' : 'failed';

/** A load's summary, and how many answers had each HTTP status (0: no answer). */
export interface WriteResult extends LoadResult {
  readonly statuses: Readonly<Record<string, number>>;
}

/** Runs the clients to the end and summarises every request (ok, refused 4xx, failed). */
export async function writeLoad(o: WriteLoadOptions): Promise<WriteResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const samples: number[] = [];
  const counts = { ok: 0, refused: 0, failed: 0 };
  const statuses: Record<string, number> = {};
  try {
    const { value: wallS, cpuPct } = await withCpu(async () => {
      const t0 = performance.now();
      const deadline = o.durationS === undefined ? Infinity : t0 + o.durationS * 1000;
      await Promise.all(
        Array.from({ length: o.concurrency }, async (_, client) => {
          let at = client;
          for (let seq = 0; performance.now() < deadline && !(o.stopped?.() ?? false); seq++) {
            const nodes = o.nodes();
            const node = nodes[at % nodes.length]!;
            const sentAt = performance.now();
            const answer = await o.call(agent, node, client, seq);
            const doneAt = performance.now();
            const outcome = classify(answer.status);
            samples.push(doneAt - sentAt);
            counts[outcome]++;
            statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
            o.onEvent?.({ client, sentAt, doneAt, outcome });
            if (answer.status === 0) at++; // refused or cut off: try the next node
            if (outcome === 'failed') await new Promise((r) => setTimeout(r, 20));
          }
        }),
      );
      return (performance.now() - t0) / 1000;
    });
    return {
      requests: counts.ok + counts.refused + counts.failed,
      ...counts,
      durationS: wallS,
      throughput: counts.ok / wallS,
      latency: latencyOf(samples),
      generatorCpuPct: cpuPct,
      statuses,
    };
  } finally {
    agent.destroy();
  }
}

/** Chorus: client i adds a new track to rooms[i % rooms.length] as that room's member i. */
export function chorusAdds(rooms: readonly BenchRoom[], workload: Workload): WriteCall {
  return async (agent, node, client) => {
    const room = rooms[client % rooms.length]!;
    const token = room.tokens[Math.floor(client / rooms.length) % room.tokens.length]!;
    const answer = await request(
      agent,
      new URL(`/v1/rooms/${room.id}/queue`, node),
      'POST',
      JSON.stringify({ track: workload.newTrack() }),
      { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    );
    if (answer.status === 201)
      workload.ackAdd(room.id, JSON.parse(answer.text) as Parameters<Workload['ackAdd']>[1]);
    return answer;
  };
}

/**
 * etcd: client i puts a new key `prefix/i/seq` whose value is as long as a Chorus add's body, through
 * the v3 JSON gateway (POST /v3/kv/put, base64 key and value). Counts the acknowledged puts.
 */
export function etcdPuts(prefix: string, acked: { count: number }): WriteCall {
  const value = Buffer.from(
    JSON.stringify({
      track: {
        trackId: 'bench-0',
        title: 'Bench track 0',
        artist: 'Load 0',
        album: 'Benchmarks',
        durationMs: 180000,
      },
    }),
  ).toString('base64');
  return async (agent, node, client, seq) => {
    const key = Buffer.from(`${prefix}/${client}/${seq}`).toString('base64');
    const answer = await request(agent, new URL('/v3/kv/put', node), 'POST', JSON.stringify({ key, value }), {
      'content-type': 'application/json',
    });
    if (answer.status === 200) acked.count++;
    return answer;
  };
}
