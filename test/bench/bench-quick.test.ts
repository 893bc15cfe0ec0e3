// The benchmark harness in quick mode: it must start every configuration, run the load, write its
// results and figures, and find no acknowledged write missing. It asserts no speed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));

void test(
  'npm run bench -- --quick completes, writes results, loses no write',
  { timeout: 600_000 },
  async () => {
    const out = await mkdtemp(join(tmpdir(), 'chorus-bench-test-'));
    try {
      const child = spawn(process.execPath, [RUN, '--quick', '--out', out], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      child.stdout.on('data', (d: Buffer) => (log += d.toString()));
      child.stderr.on('data', (d: Buffer) => (log += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, `bench exited ${String(code)}:\n${log.slice(-4000)}`);

      const files = await readdir(out);
      const json = files.find((f) => f.endsWith('-quick.json'));
      assert.ok(json, `no results JSON in ${files.join(', ')}`);
      assert.ok(
        files.some((f) => f.endsWith('-throughput.png')) && files.some((f) => f.endsWith('-latency.png')),
      );
      assert.ok(files.some((f) => f.endsWith('-quick.md')));

      const result = JSON.parse(await readFile(join(out, json), 'utf8')) as {
        rows: { phase: string; api: string; chorus: { requests: number; ok: number; failed: number } }[];
        verifies: { acknowledgedAdds: number; missing: string[]; disagreements: string[] }[];
      };
      for (const phase of ['experiment', 'saturation']) {
        for (const api of ['REST', 'gRPC']) {
          const rows = result.rows.filter((r) => r.phase === phase && r.api === api);
          assert.ok(rows.length > 0, `no ${phase} ${api} rows`);
          for (const r of rows) assert.ok(r.chorus.ok > 0, `${phase} ${api}: nothing succeeded`);
        }
      }
      assert.ok(result.verifies.length > 0);
      for (const v of result.verifies) {
        assert.ok(v.acknowledgedAdds > 0);
        assert.deepEqual(v.missing, []);
        assert.deepEqual(v.disagreements, []);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  },
);
