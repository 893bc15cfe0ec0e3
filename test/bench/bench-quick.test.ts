// The benchmark harness in quick mode, as CI runs it: it must start every configuration (the
// consensus groups and etcd included), run the load, write its results and figures outside the
// working tree (a quick run is a smoke test; committed results come from full runs only), and find
// no acknowledged write missing. It asserts no speed.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What git sees as untracked or changed under bench/ (the run must add nothing there). */
function benchStatus(): string {
  const git = spawnSync('git', ['status', '--porcelain', '--untracked-files=all', '--', 'bench'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(git.status, 0, git.stderr);
  return git.stdout;
}

interface QuickResult {
  rows: { phase: string; api: string; chorus: { requests: number; ok: number; failed: number } }[];
  verifies: { acknowledgedAdds: number; missing: string[]; disagreements: string[] }[];
  groups: {
    rows: { system: string; kind: string; result: { ok: number } }[];
    failover: { trials: { recoveryMs: number | null }[]; verify: { acknowledgedAdds: number } } | null;
    contention: { system: string; result: { ok: number }; counters: { prepares: number } | null }[];
    verifies: { acknowledgedAdds: number; missing: string[]; disagreements: string[] }[];
    etcdChecks: { acknowledged: number; held: number }[];
  };
  shards: {
    rows: { primaries: number; result: { ok: number } }[];
    verifies: { acknowledgedAdds: number; missing: string[]; disagreements: string[] }[];
  };
}

void test(
  'npm run bench -- --quick completes, writes results outside the tree, loses no write',
  { timeout: 900_000 },
  async () => {
    const before = benchStatus();
    const child = spawn(process.execPath, [RUN, '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `bench exited ${String(code)}:\n${log.slice(-4000)}`);
    assert.equal(benchStatus(), before, 'the quick run left files in bench/');

    const md = /^results: (\S+\.md),/m.exec(log)?.[1];
    assert.ok(md, `no results line in:\n${log.slice(-2000)}`);
    const out = dirname(md);
    assert.ok(!out.startsWith(ROOT), `results written into the tree: ${out}`);
    try {
      const files = await readdir(out);
      const json = files.find((f) => f.endsWith('-quick.json'));
      assert.ok(json, `no results JSON in ${files.join(', ')}`);
      for (const figure of ['-throughput.png', '-latency.png', '-groups.png', '-failover.png'])
        assert.ok(
          files.some((f) => f.endsWith(figure)),
          `no ${figure} in ${files.join(', ')}`,
        );
      assert.ok(files.some((f) => f.endsWith('-quick.md')));

      const result = JSON.parse(await readFile(join(out, json), 'utf8')) as QuickResult;
      for (const phase of ['experiment', 'saturation']) {
        for (const api of ['REST', 'gRPC']) {
          const rows = result.rows.filter((r) => r.phase === phase && r.api === api);
          assert.ok(rows.length > 0, `no ${phase} ${api} rows`);
          for (const r of rows) assert.ok(r.chorus.ok > 0, `${phase} ${api}: nothing succeeded`);
        }
      }
      const g = result.groups;
      for (const kind of ['raft', 'etcd']) {
        const rows = g.rows.filter((r) => r.kind === kind);
        assert.ok(rows.length > 0, `no ${kind} rows`);
        for (const r of rows) assert.ok(r.result.ok > 0, `${r.system}: nothing succeeded`);
      }
      assert.ok(g.failover && g.failover.trials.length > 0, 'no failover trial');
      for (const t of g.failover.trials) assert.notEqual(t.recoveryMs, null, 'writes never came back');
      assert.ok(g.failover.verify.acknowledgedAdds > 0);
      assert.ok(g.contention.length > 0, 'no contention run');
      for (const c of g.contention) {
        assert.ok(c.result.ok > 0, `${c.system} on one room: nothing succeeded`);
        assert.ok(c.counters && c.counters.prepares > 0, `${c.system}: no 2PC counters`);
      }
      assert.ok(g.etcdChecks.length > 0);
      for (const e of g.etcdChecks) assert.ok(e.acknowledged > 0 && e.held >= e.acknowledged);

      for (const primaries of [1, 3]) {
        const rows = result.shards.rows.filter((r) => r.primaries === primaries);
        assert.ok(rows.length > 0, `no run on ${primaries} Redis primaries`);
        for (const r of rows) assert.ok(r.result.ok > 0, `${primaries} Redis primaries: nothing succeeded`);
      }

      const verifies = [...result.verifies, ...g.verifies, ...result.shards.verifies];
      assert.ok(verifies.length > 0);
      for (const v of verifies) {
        assert.ok(v.acknowledgedAdds > 0);
        assert.deepEqual(v.missing, []);
        assert.deepEqual(v.disagreements, []);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  },
);
