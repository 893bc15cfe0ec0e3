// `chorus cluster` under failure, with real processes: a node SIGKILLed mid-load (nginx routes
// around it, the supervisor restarts it, it catches up) and redis-server SIGKILLed mid-load (nodes
// report unavailable, the supervisor restarts Redis from its append-only file, nodes recover by
// themselves). In both, nothing acknowledged is lost and every node ends equal to the replayed stream.
// Then: reads through nginx during a Redis outage (nodes serve them from memory, so nginx must not
// take them out of rotation), and SIGTERM while the supervisor is restarting a node.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  archiveLogs,
  call,
  checkAfterLoad,
  clusterForFile,
  processesNaming,
  roomPath,
  setupRooms,
  type StartedCluster,
  startMixedLoad,
  summarise,
} from '../helpers/cluster.ts';
import { until } from '../helpers/until.ts';

const NODES = 3;
const CLIENTS = 20;

let cluster: StartedCluster;
// The last test stops the cluster and reports how that went.
const lifecycle = clusterForFile({ nodes: NODES }, (started) => (cluster = started));

void describe('chorus cluster under failure', () => {
  void test('SIGKILL one node mid-load: only in-flight requests fail, nginx routes around it, it restarts and catches up', async (t) => {
    const rooms = await setupRooms(cluster.lb, { rooms: 3, clients: CLIENTS, tag: 'kill' });
    const archive = archiveLogs(
      cluster.redisUrl,
      rooms.map((r) => r.id),
    );
    t.after(() => archive.stop().catch(() => undefined));
    const victim = cluster.node(2);
    const load = startMixedLoad({ base: cluster.lb, rooms, clients: CLIENTS, operations: 1500 });
    await until('400 operations before the kill', () => load.completed() >= 400, { timeoutMs: 60_000 });
    const killedAt = Date.now();
    const doneBefore = load.completed();
    process.kill(victim.pid, 'SIGKILL');
    const exitLine = await cluster.waitForStderr(/^node 2 exited \((\S+)\); restarting$/, 10_000, killedAt);
    assert.equal(exitLine.match[1], 'SIGKILL');
    const restarted = await cluster.waitForNodeRestart(2, victim.pid, 60_000);
    const restartMs = restarted.at - killedAt;
    const doneAtRestart = load.completed();
    const result = await load.done;
    console.log(summarise(result));
    console.log(
      `node 2 (pid ${victim.pid}) killed after ${doneBefore} ops; supervisor restarted it as pid ${restarted.pid} ` +
        `in ${restartMs} ms; ${doneAtRestart - doneBefore} ops answered meanwhile`,
    );

    // At most the requests in flight at the kill fail: one per client.
    const failures = result.failures;
    console.log(
      `failures: ${failures.length} (${failures
        .map((f) => `${f.kind} ${f.status} ${f.code} sent ${f.sentAt - killedAt} ms after the kill`)
        .join('; ')})`,
    );
    assert.ok(
      failures.length <= CLIENTS,
      `${failures.length} failures; at most one in-flight request per client may fail`,
    );
    // Requests on their way while the process dies (and nginx's keepalive connections to it close)
    // may fail too; once nginx has noticed, none may.
    const late = failures.filter((f) => f.sentAt > killedAt + 1000);
    assert.deepEqual(late, [], 'requests sent a second after the kill are routed around the dead node');
    assert.ok(doneAtRestart - doneBefore > 0, 'the cluster kept answering while the node was down');
    assert.deepEqual(result.readViolations, []);
    for (const label of Object.keys(result.refusals)) {
      assert.match(label, /^(vote|withdraw|remove) 404 NOT_FOUND$/, `unexpected refusal ${label}`);
    }

    // The restarted node serves, and catches up to the same state as the others.
    assert.notEqual(cluster.node(2).pid, victim.pid);
    await checkAfterLoad(cluster, rooms, result, archive);
  });

  void test('restart Redis mid-load: nodes report 503, recover by themselves, nothing acknowledged is lost', async (t) => {
    const rooms = await setupRooms(cluster.lb, { rooms: 3, clients: CLIENTS, tag: 'redis' });
    const archive = archiveLogs(
      cluster.redisUrl,
      rooms.map((r) => r.id),
    );
    t.after(() => archive.stop().catch(() => undefined));
    const nodes = cluster.nodes();
    let recoveredAt: number | null = null;
    let okAfterRecovery = 0;
    const load = startMixedLoad({
      base: cluster.lb,
      rooms,
      clients: CLIENTS,
      operations: 5000,
      // After Redis is back: 400 more operations, then stop.
      shouldStop: () => recoveredAt !== null && okAfterRecovery >= 400,
      backoffMs: 25,
    });
    await until('300 operations before Redis is killed', () => load.completed() >= 300, {
      timeoutMs: 60_000,
    });

    // Every node holds every room (so it has a last applied state to serve).
    for (const node of nodes) {
      for (const room of rooms) assert.equal((await call(node.rest, 'GET', roomPath(room.id))).status, 200);
    }
    const oldPid = cluster.redisPid();
    const seen503 = new Set<number>();
    const readsDuringOutage: string[] = [];
    let polling = true;
    // Watch every node's /readyz directly from just before the kill until all are ready again.
    const watchers = nodes.map(async (node) => {
      while (polling) {
        const r = await call(node.rest, 'GET', '/readyz', { timeoutMs: 2000 });
        if (r.status === 503) {
          if (!seen503.has(node.index)) {
            seen503.add(node.index);
            // Reads keep serving the last applied state while Redis is away.
            for (const room of rooms) {
              const read = await call(node.rest, 'GET', roomPath(room.id, '?limit=1'), { timeoutMs: 2000 });
              readsDuringOutage.push(
                `node ${node.index} ${read.status}${read.status === 200 ? '' : ` ${JSON.stringify(read.body)}`}`,
              );
            }
          }
        }
        await new Promise((res) => setTimeout(res, 5));
      }
    });
    const killedAt = Date.now();
    const doneBefore = load.completed();
    process.kill(oldPid, 'SIGKILL');
    const exitLine = await cluster.waitForStderr(/^redis exited \((\S+)\); restarting$/, 10_000, killedAt);
    assert.equal(exitLine.match[1], 'SIGKILL');
    const restarted = await cluster.waitForRedisRestart(oldPid, 30_000);
    // Every node ready again, by itself.
    await until(
      'every node to report ready after Redis came back',
      async () => {
        const all = await Promise.all(nodes.map((n) => call(n.rest, 'GET', '/readyz', { timeoutMs: 2000 })));
        return all.every((r) => r.status === 200);
      },
      { timeoutMs: 30_000 },
    );
    const readyAt = Date.now();
    // And writes through nginx succeed again.
    await until(
      'reads through nginx',
      async () =>
        (
          await call(cluster.lb, 'GET', roomPath(rooms[0]!.id), {
            timeoutMs: 2000,
          })
        ).status === 200,
      { timeoutMs: 30_000 },
    );
    const failedAtRecovery = load.failed();
    const completedAtRecovery = load.completed();
    recoveredAt = Date.now();
    await until(
      '400 successful operations after recovery',
      () => {
        okAfterRecovery = load.completed() - completedAtRecovery - (load.failed() - failedAtRecovery);
        return okAfterRecovery >= 400 || undefined;
      },
      { timeoutMs: 60_000 },
    );
    polling = false;
    await Promise.all(watchers);
    const result = await load.done;
    console.log(summarise(result));
    const byStatus: Record<string, number> = {};
    for (const f of result.failures)
      byStatus[`${f.status} ${f.code}`] = (byStatus[`${f.status} ${f.code}`] ?? 0) + 1;
    console.log(
      `redis-server (pid ${oldPid}) killed after ${doneBefore} ops; restarted as pid ${restarted.pid} ` +
        `${restarted.at - killedAt} ms later; all nodes ready again after ${readyAt - killedAt} ms; ` +
        `nodes that reported /readyz 503: ${[...seen503].sort().join(', ')}; reads during the outage ${JSON.stringify(readsDuringOutage)}; ` +
        `failed requests by status ${JSON.stringify(byStatus)}; ${failedAtRecovery} failures before recovery, ` +
        `${result.failures.length - failedAtRecovery} after`,
    );

    assert.deepEqual(
      [...seen503].sort(),
      nodes.map((n) => n.index),
      'every node reported /readyz 503 while Redis was away',
    );
    assert.ok(
      readsDuringOutage.every((s) => / 200$/.test(s)),
      'reads kept serving the last applied state during the outage',
    );
    for (const f of result.failures) {
      assert.ok(
        f.status === 0 || f.status === 502 || f.status === 503 || f.status === 504,
        `a failure during the outage is an unavailability, not ${f.status} ${f.code}: ${f.detail}`,
      );
    }
    // Failures belong to the outage: none once the nodes were ready again, allowing for requests in
    // flight and for nginx's fail_timeout (2 s) on nodes it took out of rotation during the outage.
    const afterReady = result.failures.filter((f) => f.sentAt > readyAt);
    const statuses = [...new Set(afterReady.map((f) => `${f.status} ${f.code}`))].join(', ');
    console.log(
      `failures sent after every node was ready again: ${afterReady.length} (${statuses || 'none'}), ` +
        `the last sent ${afterReady.length > 0 ? Math.max(...afterReady.map((f) => f.sentAt - readyAt)) : 0} ms after`,
    );
    const late = afterReady.filter((f) => f.sentAt > readyAt + 2000);
    assert.deepEqual(late, [], 'no failures 2 s after every node was ready again');
    assert.deepEqual(result.readViolations, []);
    await checkAfterLoad(cluster, rooms, result, archive);
  });

  void test('while Redis is away, reads through nginx keep being served (nodes serve them from memory)', async () => {
    const [room] = await setupRooms(cluster.lb, { rooms: 1, clients: 2, tag: 'stale' });
    const member = room!.members[0]!;
    const nodes = cluster.nodes();
    // A node answers reads from the rooms it holds in memory; one that never loaded this room (nginx
    // need not have sent it any of the set-up requests) cannot load it without Redis, and rightly
    // says 503. So every node reads the room once first, which is what this test is about.
    for (const n of nodes) {
      const r = await call(n.rest, 'GET', roomPath(room!.id, '?limit=5'));
      assert.equal(r.status, 200, `node ${n.index} loads the room before Redis goes away`);
    }
    const oldPid = cluster.redisPid();
    const reads: Record<string, number> = {};
    const writes: Record<string, number> = {};
    let running = true;
    const reader = (async () => {
      while (running) {
        const r = await call(cluster.lb, 'GET', roomPath(room!.id, '?limit=5'), { timeoutMs: 5000 });
        reads[r.status] = (reads[r.status] ?? 0) + 1;
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    // Clients keep trying to add and vote meanwhile; those fail with 503 while Redis is away.
    const first = await call<{ entry: { entryId: string } }>(
      cluster.lb,
      'POST',
      roomPath(room!.id, '/queue'),
      {
        token: member.token,
        body: { track: { trackId: 'w-0', title: 'T', artist: 'A', album: 'B', durationMs: 60_000 } },
      },
    );
    assert.equal(first.status, 201);
    const writer = (async () => {
      for (let i = 1; running; i++) {
        const w =
          i % 2 === 0
            ? await call(cluster.lb, 'POST', roomPath(room!.id, '/queue'), {
                token: member.token,
                body: {
                  track: { trackId: `w-${i}`, title: 'T', artist: 'A', album: 'B', durationMs: 60_000 },
                },
                timeoutMs: 5000,
              })
            : await call(cluster.lb, 'PUT', roomPath(room!.id, `/queue/${first.body.entry.entryId}/vote`), {
                token: member.token,
                body: { value: i % 4 === 1 ? 1 : -1 },
                timeoutMs: 5000,
              });
        writes[w.status] = (writes[w.status] ?? 0) + 1;
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    const killedAt = Date.now();
    process.kill(oldPid, 'SIGKILL');
    await cluster.waitForRedisRestart(oldPid, 30_000);
    await until(
      'every node ready again',
      async () =>
        (await Promise.all(nodes.map((n) => call(n.rest, 'GET', '/readyz', { timeoutMs: 2000 })))).every(
          (r) => r.status === 200,
        ),
      { timeoutMs: 30_000 },
    );
    const readyMs = Date.now() - killedAt;
    running = false;
    await Promise.all([reader, writer]);
    console.log(
      `Redis outage of ${readyMs} ms: reads through nginx by status ${JSON.stringify(reads)}, writes ${JSON.stringify(writes)}`,
    );
    assert.ok((writes['503'] ?? 0) + (writes['502'] ?? 0) > 0, 'writes failed while Redis was away');
    assert.deepEqual(
      Object.keys(reads),
      ['200'],
      'every read through nginx was answered 200 while Redis was away (nodes answer reads from memory)',
    );
  });

  void test('SIGTERM while the supervisor is restarting a node stops everything, leaving no process behind', async () => {
    const victim = cluster.node(3);
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    await cluster.waitForStderr(/^node 3 exited \(SIGKILL\); restarting$/, 10_000, killedAt);
    // The supervisor has spawned the replacement, which is still starting.
    const replacement = await until(
      'the replacement of node 3 to be spawned',
      () =>
        processesNaming(`${cluster.dataDir}/node-3 `).find(
          (p) => p.pid !== victim.pid && p.ppid === cluster.pid,
        ),
      { timeoutMs: 10_000, intervalMs: 5 },
    );
    // A replacement slow to start (frozen here, deterministically) while SIGTERM arrives: the cluster
    // must still stop it rather than leave it behind.
    process.kill(replacement.pid, 'SIGSTOP');
    const report = await lifecycle.stopInTest();
    assert.equal(report.exitCode, 0);
    assert.ok(
      report.pidsChecked.includes(replacement.pid),
      'the replacement node was among the pids checked gone',
    );
    console.log(
      `cluster stopped in ${report.stopMs} ms during a restart; ${report.pidsChecked.length} pids checked gone`,
    );
  });
});
