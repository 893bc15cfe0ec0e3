// `chorus cluster` keeps its secrets: the Redis it starts refuses clients without the password,
// no process it runs carries a secret on its command line (readable by every local user in /proc),
// the secrets file is its owner's alone, and a restarted cluster accepts the tokens it issued before.
// The same cluster shows the rate limits counted for the cluster, not per node: each node takes its
// share, so a client behind the round-robin balancer gets the cluster's rate, not N times it.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { call, descendantsOf, roomPath, startCluster } from '../helpers/cluster.ts';

/** What Redis answers a raw, unauthenticated command. */
function rawRedis(url: string, command: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) }, () => socket.write(command));
    socket.setTimeout(5000, () => socket.destroy(new Error('redis did not answer')));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString());
    });
    socket.once('error', reject);
  });
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return ''; // gone meanwhile
  }
}

void test('the cluster Redis wants a password, no command line carries a secret, and tokens survive a restart', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'chorus-cluster-'));
  try {
    const first = await startCluster({
      nodes: 2,
      dataDir,
      keepDataDir: true,
      env: { CHORUS_ROOMS_PER_ADDRESS: '20' },
    });
    let hostToken: string;
    try {
      const secrets = JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as {
        tokenSecret: string;
        redisPassword: string;
      };
      assert.equal(statSync(path.join(dataDir, 'secrets.json')).mode & 0o777, 0o600, 'secrets file 0600');
      assert.equal(statSync(dataDir).mode & 0o777, 0o700, 'cluster folder 0700');
      assert.equal(
        statSync(path.join(dataDir, 'redis', 'redis.conf')).mode & 0o777,
        0o600,
        'redis.conf 0600',
      );
      assert.ok(first.redisUrl.includes(secrets.redisPassword), 'the printed Redis URL carries the password');

      // An unauthenticated client can neither read nor forge a command.
      const forged = await rawRedis(first.redisUrl, 'XADD chorus:{room:x}:log * e forged\r\n');
      assert.match(forged, /^-NOAUTH/, `unauthenticated XADD refused, got ${forged}`);
      const config = await rawRedis(first.redisUrl, 'CONFIG SET dir /tmp\r\n');
      assert.match(config, /^-NOAUTH/, `unauthenticated CONFIG refused, got ${config}`);

      const pids = descendantsOf(first.pid);
      assert.ok(pids.length >= 4, `the cluster runs redis, nginx and 2 nodes (saw ${pids.length} processes)`);
      for (const pid of [first.pid, ...pids]) {
        const line = cmdline(pid);
        assert.ok(!line.includes(secrets.tokenSecret), `pid ${pid} has the token secret in argv: ${line}`);
        assert.ok(
          !line.includes(secrets.redisPassword),
          `pid ${pid} has the Redis password in argv: ${line}`,
        );
      }

      const created = await call<{ token: string }>(first.lb, 'POST', '/v1/rooms', {
        body: { roomId: 'kept', name: 'Kept', hostName: 'Ann' },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      hostToken = created.body.token;

      // 20 rooms a minute from one address for the cluster: 10 on each of the 2 nodes
      // (one of them already taken by the room above).
      let allowed = 0;
      for (let i = 0; i < 30; i++) {
        const room = await call(first.lb, 'POST', '/v1/rooms', {
          body: { name: `Rate ${i}`, hostName: 'Ann' },
        });
        if (room.status === 201) allowed++;
        else assert.equal(room.status, 429, JSON.stringify(room.body));
      }
      // The buckets refill a room every 6 s per node: one more may slip in while the loop runs.
      assert.ok(
        allowed >= 19 && allowed <= 21,
        `${allowed} of 30 rooms created (the cluster's rate is 20, one used above)`,
      );
    } finally {
      await first.stop();
    }

    // The same folder again: same secrets, same Redis data, so the host is still the host.
    const second = await startCluster({ nodes: 2, dataDir });
    try {
      const locked = await call(second.lb, 'PUT', roomPath('kept', '/lock'), {
        token: hostToken,
        body: { locked: true },
      });
      assert.equal(
        locked.status,
        200,
        `the host token from before the restart: ${JSON.stringify(locked.body)}`,
      );
    } finally {
      await second.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
