// Measures what a Chorus node in its container uses, to set the Kubernetes requests and limits
// (deploy/k8s/base/chorus.yaml) from figures instead of guesses. Not a test (CI does not run it):
//   npm run test:deploy            # once, to build the images
//   npx node test/deploy/measure-resources.ts [seconds=20]
// Brings up deploy/compose/rest.yml with 2 nodes (the HPA's minimum), reads `podman stats` idle, then
// every 2 s while 16 writers add tracks through nginx as fast as they are answered (bounded: at most
// 6,000 adds and the given seconds), and prints each node's memory and CPU, idle and under load.

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { freePort } from '../../src/cluster/ports.ts';
import { restApi } from './apis.ts';
import {
  Cleanup,
  ComposeProject,
  eventually,
  podman,
  startLoad,
  startPodmanService,
  writeSecrets,
} from './harness.ts';

interface Sample {
  readonly name: string;
  readonly cpuPercent: number;
  readonly memBytes: number;
}

const UNITS: Record<string, number> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};

function bytes(text: string): number {
  const m = /^([\d.]+)\s*([A-Za-z]+)$/.exec(text.trim());
  return m ? Number(m[1]) * (UNITS[m[2]!] ?? NaN) : NaN;
}

async function stats(containers: readonly string[]): Promise<Sample[]> {
  const out = await podman(
    'stats',
    '--no-stream',
    '--format',
    '{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}',
    ...containers,
  );
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', cpu = '', mem = ''] = line.split('\t');
      return { name, cpuPercent: Number(cpu.replace('%', '')), memBytes: bytes(mem.split('/')[0] ?? '') };
    });
}

const seconds = Number(process.argv[2] ?? 20);
const cleanup = new Cleanup();
try {
  const env = await startPodmanService(cleanup);
  const secrets = await writeSecrets(cleanup);
  const port = await freePort();
  const project = new ComposeProject(
    'rest.yml',
    'measure',
    { ...env, ...secrets, CHORUS_REST_PORT: String(port) },
    cleanup,
  );
  await project.up(2);
  const api = restApi(`http://127.0.0.1:${port}`);
  await eventually(
    async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined),
    'ready',
  );
  const nodes = await project.containers('chorus');
  const watched = [...nodes, ...(await project.containers('nginx')), ...(await project.containers('redis'))];
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const idle = await stats(watched);
  // podman's CPU% of a single --no-stream sample averages over the container's life: take the
  // difference of CPU time (utime + stime of every process of the container, from /proc) instead.
  const cpuTime = async (c: string): Promise<number> => {
    const pids = (await podman('top', c, 'hpid')).split('\n').slice(1).filter(Boolean);
    let ticks = 0;
    for (const pid of pids) {
      const fields = (await readFile(`/proc/${pid.trim()}/stat`, 'utf8')).split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    }
    return ticks / 100; // seconds, at the kernel's 100 ticks per second
  };
  const roomId = `measure-${randomUUID().slice(0, 8)}`;
  const token = await api.createRoom(roomId);
  const before = await Promise.all(watched.map(cpuTime));
  const started = Date.now();
  const load = startLoad(api, roomId, token, 'm', { writers: 16, min: 0, max: 6_000, paceMs: 0 });
  const peak = new Map<string, number>();
  while (Date.now() - started < seconds * 1000 && load.acknowledged() < 6_000) {
    for (const s of await stats(watched)) peak.set(s.name, Math.max(peak.get(s.name) ?? 0, s.memBytes));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  const after = await Promise.all(watched.map(cpuTime));
  const elapsed = (Date.now() - started) / 1000;
  const result = await load.stop();
  console.log(
    `load: ${result.acknowledged.length} adds in ${elapsed.toFixed(1)} s (${(result.acknowledged.length / elapsed).toFixed(0)}/s), 16 writers, 2 nodes`,
  );
  watched.forEach((name, i) => {
    const i0 = idle.find((s) => s.name === name);
    const cores = (after[i]! - before[i]!) / elapsed;
    console.log(
      `${name}: idle ${((i0?.memBytes ?? NaN) / 2 ** 20).toFixed(0)} MiB; under load peak ${((peak.get(name) ?? NaN) / 2 ** 20).toFixed(0)} MiB, CPU ${(cores * 1000).toFixed(0)} millicores`,
    );
  });
} finally {
  await cleanup.run();
}
