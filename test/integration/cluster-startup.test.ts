// `chorus cluster` when a node never gets ready while the cluster starts: it must report it, exit
// with a failure, and leave no process behind (neither the stuck node nor the others).
// The stuck node is made deterministic by freezing it (SIGSTOP) right after it is spawned; the
// cluster gives up on it after its 30 s readiness limit.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { spawnProcess } from '../../src/cluster/process.ts';
import {
  childEnv,
  clusterArgs,
  descendantsOf,
  isAlive,
  processesNaming,
  REPO_ROOT,
} from '../helpers/cluster.ts';
import { until } from '../helpers/until.ts';

void test('a node that never gets ready at start: chorus cluster exits 1 and leaves no process behind', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'chorus-cluster-'));
  const seen = new Set<number>();
  const proc = spawnProcess(process.execPath, clusterArgs({ nodes: 2, readyTimeoutSeconds: 20 }, dataDir), {
    cwd: REPO_ROOT,
    env: childEnv(),
  });
  const clusterPid = proc.child.pid!;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void proc.exited.then((e) => (exit = e));
  try {
    // Freeze node 1 as soon as the cluster spawns it.
    const frozen = await until(
      'node 1 to be spawned',
      () => processesNaming(`${dataDir}/node-1 `).find((p) => p.ppid === clusterPid),
      { timeoutMs: 30_000, intervalMs: 2 },
    );
    process.kill(frozen.pid, 'SIGSTOP');
    seen.add(frozen.pid);
    // Remember every process the cluster runs until it exits.
    const t0 = Date.now();
    await until(
      'chorus cluster to give up on the stuck node and exit',
      () => {
        for (const pid of descendantsOf(clusterPid)) seen.add(pid);
        return exit !== null;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    const stderr = proc.stderrTail();
    console.log(
      `chorus cluster exited ${JSON.stringify(exit)} ${Date.now() - t0} ms after node 1 was frozen; ${seen.size} processes seen`,
    );
    assert.match(stderr, /node 1 was not ready within \d+ ms/);
    assert.deepEqual(exit, { code: 1, signal: null }, 'the cluster exits with a failure');
    // The cluster waits for its children before it exits: only a short grace.
    const deadline = Date.now() + 3000;
    let left = [...seen].filter(isAlive);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      left = left.filter(isAlive);
    }
    assert.deepEqual(left, [], `processes left behind\n${stderr}`);
    assert.deepEqual(processesNaming(dataDir), [], 'no process names the cluster folder');
  } finally {
    if (exit === null) proc.child.kill('SIGKILL');
    for (const pid of [...seen, ...processesNaming(dataDir).map((p) => p.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  }
});
