// The CLI over gRPC: GrpcClient answers exactly what RestClient answers for the same calls on the
// same node (in-process, every method), and the `chorus` commands take `--transport grpc` (or
// CHORUS_TRANSPORT), including `watch`, which follows the Watch stream until interrupted.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChorusClient } from '../../src/cli/api-client.ts';
import { GrpcClient } from '../../src/cli/grpc-client.ts';
import { RestClient } from '../../src/cli/rest-client.ts';
import type { ChorusError } from '../../src/domain/index.ts';

import { CHORUS_MAIN, REPO_ROOT, startGrpcNode, type GrpcNode } from '../helpers/grpc-node.ts';
import { until } from '../helpers/until.ts';

let node: GrpcNode;
let home: string;

before(async () => {
  node = await startGrpcNode();
  home = await mkdtemp(path.join(tmpdir(), 'chorus-cli-'));
});

after(async () => {
  assert.equal(await node.stop(), 0, node.stderr());
  await rm(home, { recursive: true, force: true });
});

void describe('GrpcClient and RestClient', () => {
  void it('answer the same for every method', async () => {
    const rest = new RestClient({ server: node.restUrl });
    const grpc = new GrpcClient({ server: node.grpcAddress });
    try {
      // One room per transport, driven through the same steps; their answers must match.
      const runs = await Promise.all(
        (
          [
            ['rest', rest],
            ['grpc', grpc],
          ] as const
        ).map(async ([name, client]) => steps(name, client, (token) => withToken(client, token))),
      );
      assert.deepEqual(normalise(runs[1]!), normalise(runs[0]!));
    } finally {
      grpc.close();
    }
  });

  void it('turn failures into the same ChorusError', async () => {
    const rest = new RestClient({ server: node.restUrl });
    const grpc = new GrpcClient({ server: node.grpcAddress });
    try {
      for (const client of [rest, grpc]) {
        await assert.rejects(
          client.join('no-such-room', 'x'),
          (err: ChorusError) => err.code === 'NOT_FOUND',
        );
        await assert.rejects(client.add('no-such-room', { trackId: 'demo:0001' }), (err: ChorusError) => {
          assert.equal(err.code, 'UNAUTHENTICATED');
          return true;
        });
      }
      const nowhere = new GrpcClient({ server: '127.0.0.1:1', timeoutMs: 2000 });
      await assert.rejects(nowhere.listRooms(), (err: ChorusError) => err.code === 'UNAVAILABLE');
      nowhere.close();
    } finally {
      grpc.close();
    }
  });
});

function withToken(client: ChorusClient, token: string): ChorusClient {
  return client instanceof RestClient
    ? client.withToken(token)
    : new GrpcClient({ server: client.server, token });
}

/** The same steps over one client; returns every answer. */
async function steps(
  name: string,
  anonymous: ChorusClient,
  as: (token: string) => ChorusClient,
): Promise<unknown[]> {
  const roomId = `parity-${name}`;
  const created = await anonymous.createRoom({
    name: 'Parity',
    hostName: 'Host',
    roomId,
    settings: { autoplay: false },
  });
  const host = as(created.token);
  const joined = await anonymous.join(roomId, 'Member');
  const member = as(joined.token);
  const out: unknown[] = [created, joined];
  const a = await member.add(roomId, { trackId: 'demo:0001' });
  const b = await member.add(roomId, {
    track: { trackId: 'own:1', title: 'Own', artist: 'Me', album: '', durationMs: 60_000, genre: 'X' },
  });
  out.push(a, b);
  out.push(await host.vote(roomId, b.entry!.entryId, 1));
  out.push(await member.vote(roomId, a.entry!.entryId, -1));
  out.push(await member.room(roomId, { limit: 10 }));
  out.push(await member.room(roomId, { offset: 1, limit: 1 }));
  out.push(await host.remove(roomId, a.entry!.entryId));
  await member.add(roomId, { trackId: 'demo:0002' });
  out.push(await host.advance(roomId));
  const advanced = await host.advance(roomId);
  out.push({ ...advanced, room: { ...advanced.room, nowPlaying: advanced.room.nowPlaying?.entryId } });
  out.push(await anonymous.history(roomId, { limit: 1 }));
  out.push(await anonymous.search('lullaby', 3));
  out.push(await anonymous.track('demo:0003'));
  const { rooms } = await anonymous.listRooms(500);
  out.push(rooms.find((r) => r.id === roomId));
  // Hosts and members (issue 20): settings, approval, roles, removal with a ban, an invite,
  // hand-over, a new recovery key and recovery, in that order (recovery last: the host id then
  // leaves the room).
  out.push(await host.updateSettings(roomId, { joinPolicy: 'approval', maxMembers: 10, skipShare: 0.4 }));
  const asking = await anonymous.join(roomId, 'Asking', { clientKey: `parity-key-${name}-1` });
  out.push({ ...asking, room: { ...asking.room, pendingJoins: asking.room.pendingJoins } });
  out.push(await host.decideJoin(roomId, asking.memberId, true));
  out.push(await host.setRole(roomId, joined.memberId, 'cohost'));
  out.push(await host.members(roomId));
  out.push(await member.removeMember(roomId, asking.memberId, { ban: true, removeEntries: true }));
  out.push(await host.newInvite(roomId));
  out.push(await host.handOver(roomId, joined.memberId));
  out.push(await member.members(roomId));
  // The hand-over retired the creator's key: the new host makes one, and it recovers the room.
  out.push(await anonymous.recoverHost(roomId, created.recoveryKey!).catch((e: ChorusError) => e.reason));
  const made = await member.newRecoveryKey(roomId);
  out.push(made);
  out.push(await anonymous.recoverHost(roomId, made.recoveryKey));
  out.push(await host.updateSettings(roomId, { maxMembers: 0 }, null).catch((e: ChorusError) => e.code));
  return out;
}

/** Ids, times and the room id differ between the two rooms; the rest must not. */
function normalise(value: unknown): unknown {
  const ids = new Map<string, string>();
  const walk = (v: unknown, key = ''): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    }
    if (typeof v !== 'string' && typeof v !== 'number') return v;
    if (
      (/At$|^startedAt$|^endedAt$|Ms$/.test(key) || key === 'at') &&
      key !== 'durationMs' &&
      key !== 'maxTrackDurationMs'
    ) {
      return 'time';
    }
    // A recovery key (or invite) is random per room: each run's own secret.
    if (key === 'recoveryKey' || key === 'invite')
      return typeof v === 'string' && v.length >= 22 ? 'secret' : v;
    if (typeof v === 'string' && /^(m|e)_|^v1\.|^parity-/.test(v)) {
      if (!ids.has(v)) ids.set(v, `id${ids.size}`);
      return ids.get(v);
    }
    return v;
  };
  return walk(value);
}

// ---- The chorus command --------------------------------------------------------------------------

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function chorus(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHORUS_MAIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...cleanEnv(), CHORUS_CREDENTIALS: path.join(home, 'credentials.json'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CHORUS_')));
}

void describe('chorus --transport grpc', () => {
  void it('creates a room, adds by search words, and shows the queue; CHORUS_TRANSPORT works too', async () => {
    const grpc = ['--transport', 'grpc', '--server', node.grpcAddress];
    const created = await chorus(['create-room', 'CLI Party', '--id', 'cli-party', ...grpc]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /created room cli-party/);

    const env = { CHORUS_TRANSPORT: 'grpc', CHORUS_SERVER: `grpc://${node.grpcAddress}` };
    const added = await chorus(['add', 'cli-party', 'sweet', 'lullaby'], env);
    assert.equal(added.code, 0, added.stderr);
    // The host's token was saved for this server by create-room: autoplay started the track.
    assert.match(added.stdout, /playing now|added at position/);

    const queue = await chorus(['queue', 'cli-party', '--json', ...grpc]);
    assert.equal(queue.code, 0, queue.stderr);
    const room = JSON.parse(queue.stdout) as { id: string; nowPlaying: { track: { title: string } } | null };
    assert.equal(room.id, 'cli-party');
    assert.equal(room.nowPlaying?.track.title, 'Sweet Lullaby');
  });

  void it('reports failures as CODE: message with exit code 1', async () => {
    const [missing, url] = await Promise.all([
      chorus(['queue', 'no-such-room', '--transport', 'grpc', '--server', node.grpcAddress]),
      chorus(['rooms', '--transport', 'grpc', '--server', node.restUrl]),
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NOT_FOUND: room no-such-room does not exist/);
    assert.equal(url.code, 1);
    assert.match(url.stderr, /INVALID_ARGUMENT: with --transport grpc, --server is the gRPC address/);
  });

  void it('watch follows the room over the Watch stream until interrupted', async () => {
    const host = new RestClient({ server: node.restUrl });
    const created = await host.createRoom({ name: 'Watched', hostName: 'H', roomId: 'cli-watch' });
    const child = spawn(
      process.execPath,
      [CHORUS_MAIN, 'watch', 'cli-watch', '--json', '--transport', 'grpc', '--server', node.grpcAddress],
      { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await until('the reset line', () => (stdout.includes('"event":"reset"') ? true : undefined), {
        timeoutMs: 30_000,
      });
      await host.withToken(created.token).add('cli-watch', { trackId: 'demo:0005' });
      await until('the change line', () => (stdout.includes('"type":"entryAdded"') ? true : undefined));
      const lines = stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; data: { version: number } });
      assert.deepEqual(
        lines.map((l) => l.event),
        ['reset', 'change'],
      );
      assert.equal(lines[1]!.data.version, lines[0]!.data.version + 1);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0);
  });
});
