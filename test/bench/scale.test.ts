// The scale benchmark (bench/scale.ts) run small, so it keeps working: it writes its table, JSON and
// its figures, with a row per point for both implementations. It asserts no speed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../bench/scale.ts', import.meta.url));

void test(
  'bench/scale.ts --max 100 writes its three curves for both implementations',
  { timeout: 120_000 },
  async () => {
    const out = await mkdtemp(join(tmpdir(), 'chorus-scale-'));
    try {
      const child = spawn(process.execPath, [SCRIPT, '--max', '100', '--out', out], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      child.stdout.on('data', (d: Buffer) => (log += d.toString()));
      child.stderr.on('data', (d: Buffer) => (log += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, log.slice(-4000));
      const files = await readdir(out);
      for (const suffix of ['.md', '.json', '-queue.png', '-voters.png', '-joins.png']) {
        assert.ok(
          files.some((f) => f.endsWith(`-scale-max100${suffix}`)),
          `${suffix} in ${files.join(', ')}`,
        );
      }
      const json = files.find((f) => f.endsWith('.json'))!;
      const result = JSON.parse(await readFile(join(out, json), 'utf8')) as {
        queueRows: { length: number; impl: string; addUs: number; voteUs: number; legacyVoteUs: number }[];
        voterRows: { voters: number; impl: string; voteUs: number }[];
        joinRows: { members: number; impl: string; joinUs: number }[];
      };
      assert.deepEqual(
        result.queueRows.map((r) => `${r.length} ${r.impl}`),
        ['10 now', '10 before', '100 now', '100 before'],
      );
      assert.deepEqual(
        result.voterRows.map((r) => `${r.voters} ${r.impl}`),
        ['10 now', '10 before', '100 now', '100 before'],
      );
      assert.deepEqual(
        result.joinRows.map((r) => `${r.members} ${r.impl}`),
        ['100 now', '100 before'],
      );
      for (const r of result.joinRows) assert.ok(r.joinUs > 0, JSON.stringify(r));
      for (const r of result.queueRows)
        assert.ok(r.addUs > 0 && r.voteUs > 0 && r.legacyVoteUs > 0, JSON.stringify(r));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  },
);
