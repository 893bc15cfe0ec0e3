// The Chorus image (deploy/Dockerfile, built by deploy/test/prepare.sh) for real: under 300 MB, runs
// as a non-root user, declares its health check, listens on every address, keeps data in /data, has
// no secret baked in; and SIGTERM mid-load stops it within the 10 s grace period (exit 0, not the
// SIGKILL podman sends after 10 s) with every acknowledged write still there when it starts again.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { freePort } from '../../src/cluster/ports.ts';
import { restApi } from './apis.ts';
import { Cleanup, eventually, IMAGE, podman, run, startLoad } from './harness.ts';
import { Http } from '../helpers/http.ts';

const MB = 1_000_000;

void test('the image: size, user, health check, environment, volume, no secrets', async () => {
  const size = Number((await podman('image', 'inspect', '--format', '{{.Size}}', IMAGE)).trim());
  assert.ok(size > 50 * MB, `implausible size ${size}`);
  assert.ok(size < 300 * MB, `the image is ${(size / MB).toFixed(1)} MB, over 300 MB`);

  const config = JSON.parse(await podman('image', 'inspect', '--format', '{{json .Config}}', IMAGE)) as {
    User: string;
    Env: string[];
    Volumes: Record<string, unknown>;
    ExposedPorts: Record<string, unknown>;
    StopSignal?: string;
  };
  assert.equal(config.User, 'chorus');
  assert.ok(config.Env.includes('CHORUS_HOST=0.0.0.0'), config.Env.join(' '));
  assert.ok(config.Env.includes('CHORUS_DATA_DIR=/data'), config.Env.join(' '));
  assert.deepEqual(Object.keys(config.Volumes), ['/data']);
  assert.deepEqual(Object.keys(config.ExposedPorts).sort(), ['50051/tcp', '8080/tcp']);
  assert.ok(!config.Env.some((e) => /SECRET|PASSWORD|EXTRA_CA/.test(e)), config.Env.join(' '));

  const health = await podman('image', 'inspect', '--format', '{{json .HealthCheck}}', IMAGE);
  assert.match(health, /\/healthz/, 'HEALTHCHECK on /healthz (kept only by --format docker builds)');

  const uid = await podman('run', '--rm', '--entrypoint', 'id', IMAGE, '-u');
  assert.equal(uid.trim(), '1000');
  // The app is read-only to the user it runs as; only /data is its own.
  const owners = await podman(
    'run',
    '--rm',
    '--entrypoint',
    'stat',
    IMAGE,
    '-c',
    '%U %n',
    '/app/src',
    '/data',
  );
  assert.equal(owners.trim(), 'root /app/src\nchorus /data');
  // Build-only tooling stays in the build stage.
  const npm = await run('podman', [
    'run',
    '--rm',
    '--entrypoint',
    'sh',
    IMAGE,
    '-c',
    'command -v npm || echo none',
  ]);
  assert.equal(npm.stdout.trim(), 'none');
});

void test(
  'SIGTERM mid-load: stops within the grace period, no acknowledged write lost',
  { timeout: 180_000 },
  async (t) => {
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    const name = `chorus-deploy-test-sigterm-${randomUUID().slice(0, 8)}`;
    const volume = `${name}-data`;
    const port = await freePort();
    await podman('volume', 'create', volume);
    cleanup.add(() => podman('volume', 'rm', '-f', volume));
    cleanup.add(() => podman('rm', '-f', '-t', '0', name));
    await podman('run', '-d', '--name', name, '-v', `${volume}:/data`, '-p', `127.0.0.1:${port}:8080`, IMAGE);
    const base = `http://127.0.0.1:${port}`;
    const ready = () =>
      eventually(
        async () => ((await new Http(base).get('/readyz')).status === 200 ? true : undefined),
        'the node to be ready',
        60_000,
      );
    await ready();
    // The health check the image declares passes on a running node.
    await podman('healthcheck', 'run', name);

    const api = restApi(base);
    const roomId = `sigterm-${randomUUID().slice(0, 8)}`;
    const token = await api.createRoom(roomId);
    const load = startLoad(api, roomId, token, 'sigterm', { writers: 8, min: 0, max: 400, paceMs: 5 });
    await eventually(async () => (load.acknowledged() >= 50 ? true : undefined), '50 acknowledged adds');
    await podman('stop', '-t', '10', name);
    const r = await load.stop();
    const exit = (await podman('inspect', '--format', '{{.State.ExitCode}}', name)).trim();
    assert.equal(exit, '0', 'exit code 0: stopped by SIGTERM on its own, not killed after 10 s (137)');
    assert.ok(r.acknowledged.length > 0, 'writes were acknowledged before the stop');
    t.diagnostic(`${r.acknowledged.length} adds acknowledged before the stop`);

    await podman('start', name);
    await ready();
    const room = await new Http(base).get(`/v1/rooms/${roomId}?limit=1000`);
    assert.equal(room.status, 200, room.text);
    const held = new Set(
      (room.body as { queue: Array<{ track: { trackId: string } }> }).queue.map((e) => e.track.trackId),
    );
    assert.deepEqual(
      r.acknowledged.filter((id) => !held.has(id)),
      [],
      'acknowledged adds missing after the restart',
    );
  },
);
