// The Raft store run as a product, on real processes: `chorus cluster --store raft --nodes 3
// --learners 1` (writes through nginx, reads on every node, the learner replicating, each node's log
// file, the Raft metrics moving), membership changes with `chorus raft …` (a 4th node started with
// --join added as a learner, promoted, another voter removed, leadership transferred; every member
// agrees on membership and data), and `chorus cluster --store 2pc --nodes 3`.

import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../../src/cluster/ports.ts';
import { Http, type HttpResponse } from '../helpers/http.ts';
import { cleanupChorus, runChorus, startChorus, type ChorusProcess } from '../helpers/chorus-process.ts';
import { until } from '../helpers/until.ts';

after(cleanupChorus);

const SECRET = 'raft-ops-test-secret-0123456789';

interface Status {
  readonly nodeId: string;
  readonly role: string;
  readonly leaderId: string | null;
  readonly members: readonly { id: string; address: string; role: string }[];
  readonly details: { term: number; commitIndex: number; appliedIndex: number };
}

async function getJson<T>(url: string): Promise<T | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return res.ok ? ((await res.json()) as T) : null;
  } catch {
    return null;
  }
}

/** A POST's status and JSON body (the shared client's, test/helpers/http.ts: 15 s deadline). */
const post = (base: string, route: string, body: object): Promise<HttpResponse> =>
  new Http(base).post(route, body);

/** Every URL answers the room at `version` or later, with the same queue. */
async function seenEverywhere(urls: readonly string[], room: string, version: number): Promise<string[]> {
  const queues: string[] = [];
  for (const url of urls) {
    const res = await fetch(`${url}/v1/rooms/${room}?minVersion=${version}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `${url}: ${text}`);
    const view = JSON.parse(text) as { version: number; queue: { track: { id: string } }[] };
    assert.ok(view.version >= version, `${url} answered version ${view.version} < ${version}`);
    queues.push(JSON.stringify(view.queue.map((e) => e.track.id)));
  }
  return queues;
}

/** One metric's value (summed over label sets matching `labels`), from a /metrics text. */
function metric(text: string, name: string, labels = ''): number {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels !== '' && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    seen = true;
  }
  assert.ok(seen, `metric ${name}${labels} missing`);
  return sum;
}

async function metrics(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(res.status, 200);
  return res.text();
}

function startCluster(store: string, nodes: number, extra: readonly string[] = []): Promise<ChorusProcess> {
  return startChorus({
    command: ['cluster'],
    logLevel: null,
    startTimeoutMs: 120_000,
    env: { CHORUS_SECRET: SECRET },
    args: [
      '--store',
      store,
      '--nodes',
      String(nodes),
      '--api',
      'rest',
      '--node-arg=--log-level=info',
      ...extra,
    ],
    // The members line comes last, after every node's lines (a group store).
    ready: (lines) => lines.some((l) => l.startsWith('members ')),
  });
}

async function stopCluster(c: ChorusProcess): Promise<void> {
  assert.equal(await c.stop(30_000), 0, c.stderr());
}

/** Creates a room through `base` and adds one track; the version of the last write. */
async function writeSome(base: string, room: string): Promise<number> {
  const created = await post(base, '/v1/rooms', {
    roomId: room,
    name: room,
    hostName: 'Ann',
    settings: { autoplay: false },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const token = (created.body as { token: string }).token;
  const trackId = 'demo:0001';
  const res = await fetch(`${base}/v1/rooms/${room}/queue`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ trackId }),
  });
  const added = (await res.json()) as { room?: { version: number }; version?: number };
  assert.equal(res.status, 201, JSON.stringify(added));
  return added.room?.version ?? added.version ?? (created.body as { room: { version: number } }).room.version;
}

void describe('chorus cluster --store raft', () => {
  void test('3 voters and a learner behind nginx: writes through nginx, reads on every node, logs, metrics', async () => {
    const cluster = await startCluster('raft', 3, ['--learners', '1']);
    try {
      const lb = /^rest (\S+)$/m.exec(cluster.stdout())![1]!;
      const nodes = cluster.nodes();
      assert.equal(nodes.length, 4);
      const urls = nodes.map((n) => n.restUrl!);
      assert.match(cluster.stdout(), /^members voters n1 n2 n3 learners n4$/m);

      // The learner is a learner on every node's view, and every node names one leader.
      const leader = await until(
        'every node to agree on a leader and see n4 as a learner',
        async () => {
          const all = await Promise.all(urls.map((u) => getJson<Status>(`${u}/v1/cluster`)));
          if (all.some((s) => s === null)) return undefined;
          const leaders = new Set(all.map((s) => s!.leaderId));
          if (leaders.size !== 1 || [...leaders][0] === null) return undefined;
          const learnerSeen = all.every((s) => s!.members.some((m) => m.id === 'n4' && m.role === 'learner'));
          return learnerSeen ? [...leaders][0]! : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      assert.notEqual(leader, 'n4', 'a learner never leads');
      assert.equal((await getJson<Status>(`${urls[3]!}/v1/cluster`))!.role, 'learner');

      const before = await metrics(urls[Number(leader.slice(1)) - 1]!);
      const version = await writeSome(lb, 'raft-ops-one');
      const queues = await seenEverywhere([lb, ...urls], 'raft-ops-one', version);
      assert.equal(new Set(queues).size, 1, `every node has the same queue: ${queues.join(' ')}`);
      // A write sent to the learner is forwarded to the leader too.
      const viaLearner = await post(urls[3]!, '/v1/rooms', {
        roomId: 'raft-ops-two',
        name: 'Two',
        hostName: 'Bo',
      });
      assert.equal(viaLearner.status, 201, JSON.stringify(viaLearner.body));
      await seenEverywhere(urls, 'raft-ops-two', viaLearner.body.room.version as number);

      // Metrics on the leader moved with the writes; every node reports its term and indexes.
      const leaderUrl = urls[Number(leader.slice(1)) - 1]!;
      const after_ = await metrics(leaderUrl);
      assert.equal(metric(after_, 'chorus_raft_is_leader'), 1);
      assert.ok(metric(after_, 'chorus_raft_elections_won_total') >= 1);
      assert.ok(metric(after_, 'chorus_raft_term') >= 2);
      for (const name of ['chorus_raft_commit_latency_seconds_count', 'chorus_raft_append_entries_count']) {
        assert.ok(
          metric(after_, name) > metric(before, name),
          `${name}: ${metric(before, name)} -> ${metric(after_, name)}`,
        );
      }
      // Entries are fsynced; a commit index that alone moved (the leader learns a write committed) is
      // not. Messages sent, by type: the leader's appends carried the writes.
      const moved: [string, string][] = [
        ['chorus_raft_log_writes_total', 'synced="true"'],
        ['chorus_raft_log_writes_total', 'synced="false"'],
        ['chorus_raft_messages_sent_total', 'type="app"'],
        ['chorus_raft_messages_sent_total', 'type="heartbeat"'],
      ];
      for (const [name, label] of moved) {
        const [was, is] = [metric(before, name, label), metric(after_, name, label)];
        assert.ok(is > was, `${name}{${label}}: ${was} -> ${is}`);
      }
      assert.ok(metric(after_, 'chorus_raft_commit_index') > metric(before, 'chorus_raft_commit_index'));
      assert.equal(metric(after_, 'chorus_raft_members', 'kind="voter"'), 3);
      assert.equal(metric(after_, 'chorus_raft_members', 'kind="learner"'), 1);
      metric(after_, 'chorus_raft_inflight_appends');
      const learnerMetrics = await metrics(urls[3]!);
      assert.equal(metric(learnerMetrics, 'chorus_raft_role', 'role="learner"'), 1);
      assert.equal(
        metric(learnerMetrics, 'chorus_raft_applied_index'),
        metric(learnerMetrics, 'chorus_raft_commit_index'),
      );

      // /readyz: ready on every node (leader known, caught up).
      for (const u of urls) assert.equal((await fetch(`${u}/readyz`)).status, 200, u);

      // Each node's output is in its data dir.
      for (const n of nodes) {
        const file = new RegExp(`^log ${n.n} (\\S+)$`, 'm').exec(cluster.stdout())![1]!;
        assert.ok(existsSync(file), file);
        assert.match(readFileSync(file, 'utf8'), /^rest http:\/\/127\.0\.0\.1:\d+$/m);
        assert.equal(path.basename(path.dirname(file)), `node-${n.n}`);
      }
    } finally {
      await stopCluster(cluster);
    }
  });

  void test('membership with chorus raft: a joining learner promoted, a voter removed, leadership moved', async () => {
    const cluster = await startCluster('raft', 3);
    let joiner: ChorusProcess | null = null;
    try {
      const nodes = cluster.nodes();
      const urls = nodes.map((n) => n.restUrl!);
      const grpcOf = (id: string): string => nodes[Number(id.slice(1)) - 1]!.grpcAddress!;
      const raft = async (...args: string[]): Promise<string> => {
        const r = await runChorus(['raft', ...args, '--server', grpcOf('n1')], {
          env: { CHORUS_SECRET: SECRET },
        });
        assert.equal(r.code, 0, `chorus raft ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      await until('a leader', async () =>
        (await getJson<Status>(`${urls[0]!}/v1/cluster`))?.leaderId ? true : undefined,
      );
      const v1 = await writeSome(urls[1]!, 'raft-ops-members');

      // A 4th node joins: it must not campaign (it is no voter), so it stays without a term of its own.
      const port4 = await freePort();
      const peers = `${nodes.map((n, i) => `n${i + 1}=${n.grpcAddress!}`).join(',')},n4=127.0.0.1:${port4}`;
      joiner = await startChorus({
        grpcPort: port4,
        env: { CHORUS_SECRET: SECRET },
        args: ['--store', 'raft', '--node-id', 'n4', '--peers', peers, '--join', '--no-legacy'],
      });
      await new Promise((r) => setTimeout(r, 2_500)); // more than an election timeout: it would have campaigned
      const alone = (await getJson<Status>(`${joiner.restUrl}/v1/cluster`))!;
      assert.equal(alone.details.term, 0, 'a node started with --join never campaigns before it is a voter');
      assert.equal((await fetch(`${joiner.restUrl}/readyz`)).status, 503);

      assert.match(
        await raft('add-member', `n4=127.0.0.1:${port4}`, '--learner'),
        /^learners n4=127\.0\.0\.1:\d+$/m,
      );
      // Another change while one is in progress, or the same again: a clear refusal.
      const again = await runChorus(
        ['raft', 'add-member', `n4=127.0.0.1:${port4}`, '--learner', '--server', grpcOf('n2')],
        {
          env: { CHORUS_SECRET: SECRET },
        },
      );
      assert.equal(again.code, 1);
      assert.match(again.stderr, /FAILED_PRECONDITION: raft: n4 is already a member/);
      await seenEverywhere([joiner.restUrl], 'raft-ops-members', v1);

      assert.match(await raft('promote', 'n4'), /^voters .*n4=/m);
      const status = (await getJson<Status>(`${urls[0]!}/v1/cluster`))!;
      const leader = status.leaderId!;
      const victim = ['n1', 'n2', 'n3'].find((id) => id !== leader && id !== 'n1') ?? 'n3';
      const removed = await raft('remove-member', victim);
      assert.doesNotMatch(
        removed.split('\n').find((l) => l.startsWith('voters'))!,
        new RegExp(`${victim}=`),
      );

      // Transfer leadership to the promoted node.
      assert.match(await raft('transfer-leader', 'n4'), /^leader n4 /m);
      const members = ['n1', 'n2', 'n3', 'n4'].filter((id) => id !== victim);
      const memberUrls = members.map((id) =>
        id === 'n4' ? joiner!.restUrl : urls[Number(id.slice(1)) - 1]!,
      );
      await until(
        'every member to agree on membership and leader n4',
        async () => {
          const all = await Promise.all(memberUrls.map((u) => getJson<Status>(`${u}/v1/cluster`)));
          const ok = all.every(
            (s) =>
              s !== null &&
              s.leaderId === 'n4' &&
              JSON.stringify(s.members.map((m) => `${m.id}:${m.role}`).sort()) ===
                JSON.stringify(members.map((id) => `${id}:voter`)),
          );
          return ok ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      // The new group takes writes (through a member) and every member has the same data.
      const v2 = await writeSome(memberUrls[0]!, 'raft-ops-after');
      const queues = await seenEverywhere(memberUrls, 'raft-ops-after', v2);
      assert.equal(new Set(queues).size, 1);
      await seenEverywhere(memberUrls, 'raft-ops-members', v1);
    } finally {
      if (joiner) await joiner.stop();
      await stopCluster(cluster);
    }
  });
});

void describe('chorus cluster --store 2pc', () => {
  void test('3 nodes behind nginx: writes through nginx, reads on every node, logs', async () => {
    const cluster = await startCluster('2pc', 3);
    try {
      const lb = /^rest (\S+)$/m.exec(cluster.stdout())![1]!;
      const nodes = cluster.nodes();
      const version = await writeSome(lb, 'twopc-ops-one');
      const queues = await seenEverywhere(
        nodes.map((n) => n.restUrl!),
        'twopc-ops-one',
        version,
      );
      assert.equal(new Set(queues).size, 1);
      for (const n of nodes)
        assert.ok(existsSync(new RegExp(`^log ${n.n} (\\S+)$`, 'm').exec(cluster.stdout())![1]!));
    } finally {
      await stopCluster(cluster);
    }
  });
});
