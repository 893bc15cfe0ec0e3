// deploy/compose/rest-cluster.yml without containers: `docker compose config -q` accepts it, and its
// wiring read as YAML (three Redis Cluster primaries, each its own volume, fixed address and
// announced name; a
// one-shot init that joins them; the nodes on a redis-cluster:// URL naming all three, started once
// the init has finished; nginx in front). And the image's entrypoint, run on this machine with a
// stand-in for the final `node`, puts the password file into a redis-cluster:// URL (in front of the
// host list, which URL cannot parse) as it does into a redis:// one.

import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { CACHE, ROOT, run } from './harness.ts';

/* eslint-disable @typescript-eslint/no-unsafe-call --
   a compose file is untyped YAML: the test reads it loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

const FILE = join(ROOT, 'deploy/compose/rest-cluster.yml');

void test('compose rest-cluster.yml: valid, three primaries joined once, nodes on all three', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-compose-'));
  try {
    await writeFile(join(dir, 'chorus_secret'), 'x\n');
    await writeFile(join(dir, 'redis_password'), 'y\n');
    const config = await run('docker', ['compose', '-f', FILE, 'config', '-q'], {
      env: {
        DOCKER_CONFIG: join(CACHE, 'docker'),
        CHORUS_SECRET_FILE: join(dir, 'chorus_secret'),
        REDIS_PASSWORD_FILE: join(dir, 'redis_password'),
      },
    });
    assert.equal(config.code, 0, `docker compose config -q: ${config.stderr}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const file: Obj = parse(await readFile(FILE, 'utf8'), { merge: true });
  const services = file.services as Record<string, Obj>;
  const primaries = Object.keys(services).filter((n) => /^redis-\d+$/.test(n));
  assert.deepEqual(primaries, ['redis-1', 'redis-2', 'redis-3']);
  const volumes = new Set<string>();
  for (const name of primaries) {
    const s = services[name];
    const script = String(s.command.join(' '));
    for (const line of [
      'cluster-enabled yes',
      'requirepass',
      'cluster-announce-hostname %s',
      'appendonly yes',
    ])
      assert.ok(script.includes(line), `${name}: ${line}`);
    assert.equal(s.environment.NAME, name, `${name} announces its service name`);
    const [volume, at] = String(s.volumes[0]).split(':');
    assert.equal(at, '/data');
    assert.ok(file.volumes[volume!] !== undefined, `${name}: its volume is declared`);
    volumes.add(volume!);
    assert.deepEqual(s.secrets, ['redis_password']);
  }
  assert.equal(volumes.size, 3, 'no two primaries share a volume');
  // nodes.conf names the others by address: fixed ones, outside the range handed out to the rest.
  const net = '${CHORUS_REDIS_NET:-172.31.211}';
  const subnet = file.networks.default.ipam.config[0];
  assert.equal(subnet.subnet, `${net}.0/24`);
  assert.equal(subnet.ip_range, `${net}.0/25`);
  const addresses = primaries.map((n) => String(services[n].networks.default.ipv4_address));
  assert.deepEqual(addresses, [`${net}.201`, `${net}.202`, `${net}.203`]);

  const init = services['redis-cluster-init'];
  assert.deepEqual([...init.depends_on].sort(), primaries);
  const initScript = String(init.command.join(' '));
  assert.match(initScript, /--cluster create/);
  assert.match(initScript, /cluster_slots_assigned:0/, 'joins only a cluster with no slots assigned');
  assert.match(initScript, /REDISCLI_AUTH=/, 'the password never on a command line');

  const chorus = services['chorus'];
  assert.equal(chorus.environment.CHORUS_STORE, 'redis');
  assert.equal(
    chorus.environment.CHORUS_REDIS_URL,
    `redis-cluster://${primaries.map((n) => `${n}:6379`).join(',')}`,
  );
  assert.equal(chorus.environment.CHORUS_REDIS_PASSWORD_FILE, '/run/secrets/redis_password');
  assert.deepEqual(chorus.depends_on, {
    'redis-cluster-init': { condition: 'service_completed_successfully' },
  });
  assert.match(String(services['nginx'].command.join(' ')), /start\.sh rest$/);
});

void test('the entrypoint puts the Redis password into redis://, redis-cluster:// and redis-sentinel:// URLs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-entrypoint-'));
  try {
    // `node -e …` is the real Node; the final `exec node /app/bin/chorus.js` prints the URL instead.
    const shim = join(dir, 'node');
    await writeFile(
      shim,
      `#!/bin/sh\nif [ "$1" = -e ]; then exec "${process.execPath}" "$@"; fi\nprintf '%s' "$CHORUS_REDIS_URL"\n`,
    );
    await chmod(shim, 0o755);
    await writeFile(join(dir, 'pw'), 'p/w+\n');
    const urlAfter = async (url: string): Promise<string> => {
      const r = await run('sh', [join(ROOT, 'deploy/docker-entrypoint.sh')], {
        env: {
          PATH: `${dir}:/usr/bin:/bin`,
          CHORUS_REDIS_URL: url,
          CHORUS_REDIS_PASSWORD_FILE: join(dir, 'pw'),
        },
      });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(await urlAfter('redis://redis:6379'), 'redis://:p%2Fw%2B@redis:6379');
    assert.equal(
      await urlAfter('redis-cluster://redis-1:6379,redis-2:6379'),
      'redis-cluster://:p%2Fw%2B@redis-1:6379,redis-2:6379',
    );
    assert.equal(
      await urlAfter('redis-sentinel://s1:26379,s2/mymaster'),
      'redis-sentinel://:p%2Fw%2B@s1:26379,s2/mymaster',
    );
    assert.equal(await urlAfter('redis-cluster://:kept@r1:6379'), 'redis-cluster://:kept@r1:6379');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
