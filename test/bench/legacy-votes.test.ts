// The legacy-vote benchmark (bench/legacy-votes.ts) run small, so it keeps working: it writes its
// table and JSON (the script itself checks that the votes it cast are counts, no voter keys). It
// asserts no speed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../bench/legacy-votes.ts', import.meta.url));

void test('bench/legacy-votes.ts --max 1000 writes a row per point', { timeout: 120_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'chorus-legacy-votes-'));
  try {
    const child = spawn(process.execPath, [SCRIPT, '--max', '1000', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, log.slice(-4000));
    const files = await readdir(out);
    const json = files.find((f) => f.endsWith('-legacy-votes.json'));
    assert.ok(json && files.some((f) => f.endsWith('-legacy-votes.md')), files.join(', '));
    const result = JSON.parse(await readFile(join(out, json), 'utf8')) as {
      rows: { votes: number; countUs: number; keyedUs: number }[];
    };
    assert.deepEqual(
      result.rows.map((r) => r.votes),
      [1, 1000],
    );
    for (const r of result.rows) assert.ok(r.countUs > 0 && r.keyedUs > 0, JSON.stringify(r));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
