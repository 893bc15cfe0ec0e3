// Where a node's CPU goes under the saturation bench's mixed load: starts an embedded `chorus serve`
// with `--cpu-prof`, makes the same rooms as the saturation part, drives REST or gRPC mixed load for a
// bounded time, stops the node (it writes its profile on exit) and prints the profile's self time by
// area (fastify, grpc-js, the store, the domain, JSON, ...) and its top functions.
//
//   npx node bench/profile-node.ts [--api REST|gRPC] [--seconds 10] [--clients 20] [--out DIR]
//   npx node bench/profile-node.ts --read FILE.cpuprofile [--window FROM,TO] [--top N]
//       (only summarise a profile; --window: only its samples between two monotonic-clock times in
//       µs, such as a bench/node-scale.ts fan-out row's `windowUs`)

import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { stopProcess } from '../src/cluster/process.ts';
import { startEmbeddedNode } from './lib/embedded.ts';
import { clients, grpcMixed } from './lib/grpc-load.ts';
import { restMixed } from './lib/rest-load.ts';
import { makeRoom } from './lib/rooms.ts';
import { Workload, type BenchRoom } from './lib/workload.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}
interface Profile {
  readonly nodes: ProfileNode[];
  /** When the profile started, µs on the monotonic clock (process.hrtime's). */
  readonly startTime: number;
  readonly samples: number[];
  readonly timeDeltas: number[];
}

/** The area a frame belongs to, by where its code lives (first match wins). */
const AREAS: readonly [string, RegExp][] = [
  ['chorus REST (src/api/rest)', /src\/api\/rest\//],
  ['chorus gRPC (src/api/grpc)', /src\/api\/grpc\//],
  ['chorus service/tokens (src/node)', /src\/node\//],
  ['chorus domain (src/domain)', /src\/domain\//],
  ['chorus store (src/store)', /src\/store\//],
  ['fastify', /node_modules\/(fastify|@fastify|find-my-way|light-my-request|avvio)\//],
  ['json schema (ajv, fast-json-stringify)', /node_modules\/(ajv|fast-json-stringify|fast-uri|json-schema)/],
  ['pino', /node_modules\/(pino|sonic-boom|thread-stream)/],
  ['prom-client', /node_modules\/(prom-client|tdigest|bintrees)/],
  ['grpc-js / protobuf', /node_modules\/(@grpc|protobufjs|@protobufjs|long)\//],
  ['other node_modules', /node_modules\//],
  ['chorus other', /\/src\//],
  ['node:http/net/stream', /^node:(_http|http|net|_stream|stream|internal\/(http|streams|stream_base))/],
  ['node:fs', /^node:(fs|internal\/fs)/],
  ['node internals', /^node:/],
];

function areaOf(url: string, name: string): string {
  if (url === '') {
    if (name === '(garbage collector)') return 'GC';
    if (name === '(idle)' || name === '(program)') return name;
    return 'native (JSON, builtins, syscalls)';
  }
  for (const [area, pattern] of AREAS) if (pattern.test(url)) return area;
  return 'other';
}

/**
 * The profile's self time by area and by function; with `window` ([from, to], µs on the monotonic
 * clock, as bench/node-scale.ts records each fan-out row's), only the samples taken within it.
 */
export function summarise(profile: Profile, top = 30, window?: readonly [number, number]): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window !== undefined && (at < window[0] || at > window[1])) continue;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + delta);
  }
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const area = areaOf(url, functionName);
    if (area === '(idle)') continue;
    busy += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  const pct = (us: number): string => `${((us / busy) * 100).toFixed(1)}%`;
  const lines = [`busy ${(busy / 1e6).toFixed(2)} s of CPU`, '', 'self time by area:'];
  for (const [area, us] of [...areas].sort((a, b) => b[1] - a[1]))
    lines.push(`  ${pct(us).padStart(6)}  ${area}`);
  lines.push('', `top ${top} functions (self):`);
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(us).padStart(6)}  ${name}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      api: { type: 'string', default: 'REST' },
      seconds: { type: 'string', default: '10' },
      clients: { type: 'string', default: '20' },
      out: { type: 'string' },
      read: { type: 'string' },
      window: { type: 'string' },
      top: { type: 'string', default: '30' },
    },
  });
  if (values.read !== undefined) {
    const window = values.window?.split(',').map(Number) as [number, number] | undefined;
    const profile = JSON.parse(await readFile(values.read, 'utf8')) as Profile;
    process.stdout.write(`${summarise(profile, Number(values.top), window)}\n`);
    return;
  }
  const api = values.api === 'gRPC' ? 'gRPC' : 'REST';
  const seconds = Math.min(60, Number(values.seconds));
  const concurrency = Number(values.clients);
  const out = values.out ?? (await mkdtemp(join(os.tmpdir(), 'chorus-profile-')));
  const data = await mkdtemp(join(os.tmpdir(), 'chorus-profile-data-'));
  const {
    process: node,
    rest,
    grpc,
  } = await startEmbeddedNode(ROOT, data, ['--cpu-prof', '--cpu-prof-dir', out]);
  try {
    const setup = new Workload('profile', []);
    const workload = new Workload('profile-load', []);
    const rooms: BenchRoom[] = [];
    for (let i = 0; i < 10; i++) rooms.push(await makeRoom(rest, 20, 30, setup));
    workload.useRooms(rooms);
    const result =
      api === 'REST'
        ? await restMixed({
            url: rest,
            rooms,
            durationS: seconds,
            connections: concurrency,
            workload,
            seed: 43,
          })
        : await (async () => {
            const stubs = clients(grpc, Math.min(concurrency, 4));
            try {
              return await grpcMixed({ stubs, rooms, durationS: seconds, concurrency, workload, seed: 43 });
            } finally {
              for (const s of stubs) s.close();
            }
          })();
    process.stdout.write(
      `${api} ${concurrency} clients: ${result.ok} ok, ${result.throughput.toFixed(0)} req/s\n`,
    );
  } finally {
    await stopProcess(node, 30_000);
  }
  const file = (await readdir(out)).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile in ${out}`);
  process.stdout.write(`profile: ${join(out, file)}\n`);
  process.stdout.write(`${summarise(JSON.parse(await readFile(join(out, file), 'utf8')) as Profile)}\n`);
}

if (process.argv[1]?.endsWith('profile-node.ts')) await main();
