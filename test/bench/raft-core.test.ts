// The Raft core benchmark in a tiny run: it must drive every configuration to the end and find
// every proposal applied on every node (the script exits 1 otherwise). It asserts no speed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../bench/raft-core.ts', import.meta.url));

void test('bench/raft-core.ts runs every configuration and loses no proposal', () => {
  const run = spawnSync(process.execPath, [SCRIPT, '--proposals', '2000'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(run.status, 0, `exited ${String(run.status)}:\n${run.stderr}`);
  const rows = run.stdout.split('\n').filter((line) => /^\| [35] \|/.test(line));
  assert.equal(rows.length, 6, run.stdout);
  for (const row of rows) assert.match(row, /\| 2000 \|/);
});
