// The node-scale benchmark (bench/node-scale.ts) run small, so it keeps working: a real node, one
// generator process holding 100 subscribers (50 SSE, 50 gRPC Watch), then 10 rooms written to; it
// writes its table, JSON and both figures, and every vote reached every subscriber. It asserts no
// speed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../bench/node-scale.ts', import.meta.url));

void test(
  'bench/node-scale.ts --max-subscribers 100 --max-rooms 10 writes both curves',
  { timeout: 180_000 },
  async () => {
    const out = await mkdtemp(join(tmpdir(), 'chorus-node-scale-'));
    try {
      const child = spawn(
        process.execPath,
        [SCRIPT, '--max-subscribers', '100', '--max-rooms', '10', '--out', out],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let log = '';
      child.stdout.on('data', (d: Buffer) => (log += d.toString()));
      child.stderr.on('data', (d: Buffer) => (log += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, log.slice(-4000));
      const files = await readdir(out);
      for (const suffix of ['.md', '.json', '-fan-out.png', '-rooms.png']) {
        assert.ok(
          files.some((f) => f.endsWith(`-node-scale-max100-10${suffix}`)),
          `${suffix} in ${files.join(', ')}`,
        );
      }
      const json = files.find((f) => f.endsWith('.json'))!;
      const result = JSON.parse(await readFile(join(out, json), 'utf8')) as {
        fanOut: { subscribers: number; delivered: number; expected: number; generators: number }[];
        rooms: { rooms: number; active: number; writesPerS: number }[];
      };
      assert.deepEqual(
        result.fanOut.map((r) => [r.subscribers, r.generators, r.delivered, r.expected]),
        [[100, 1, 2000, 2000]],
        'every vote reached every subscriber',
      );
      assert.deepEqual(
        result.rooms.map((r) => [r.rooms, r.active]),
        [[10, 10]],
      );
      assert.ok(result.rooms[0]!.writesPerS > 0);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  },
);
