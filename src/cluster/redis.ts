// A redis-server for a local cluster: its own port and data folder, append-only persistence on, so
// that a restart loses nothing acknowledged. It asks for a password and runs in protected mode: the
// password sits in a config file only its owner can read, never on a command line, where any local
// user could read it in /proc.

import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { privateDir } from '../store/disk/private.ts';
import { createConnection } from 'node:net';
import { spawnProcess, stopProcess, type Spawned } from './process.ts';

export const REDIS_BIN = '/usr/bin/redis-server';

export interface RedisOptions {
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  /** What clients must AUTH with. */
  readonly password: string;
  /** More redis.conf lines (a Redis Cluster node's, see redis-cluster.ts). */
  readonly extraConfig?: readonly string[];
  /** Told of the child as soon as it is spawned (before it is ready). */
  readonly onSpawn?: (p: Spawned) => void;
}

export async function startRedisServer(o: RedisOptions): Promise<Spawned> {
  await privateDir(o.dir);
  const conf = join(o.dir, 'redis.conf');
  await writeFile(conf, redisConfig(o), { mode: 0o600 });
  await chmod(conf, 0o600);
  const p = spawnProcess(REDIS_BIN, [conf]);
  o.onSpawn?.(p);
  // A server that never answers must not outlive this attempt (nothing else would stop it).
  await waitForPing(o.host, o.port, 10_000, p).catch(async (err: unknown) => {
    await stopProcess(p, 2000);
    throw err;
  });
  return p;
}

/** The config file: everything a command line would say, plus the password. */
export function redisConfig(o: RedisOptions): string {
  // Quoted as redis.conf reads strings; the generated password is base64url, so nothing to escape.
  return [
    `port ${o.port}`,
    `bind ${o.host}`,
    `dir "${o.dir}"`,
    'appendonly yes',
    'appendfsync everysec',
    'save ""',
    'daemonize no',
    'protected-mode yes',
    `requirepass "${o.password}"`,
    ...(o.extraConfig ?? []),
    '',
  ].join('\n');
}

/**
 * Polls PING with a deadline (a raw socket: no client library needed for this). A server that wants
 * a password answers NOAUTH: that is up too.
 */
export async function waitForPing(host: string, port: number, timeoutMs: number, p?: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port }, () => socket.write('PING\r\n'));
      socket.setTimeout(500, () => socket.destroy());
      socket.once('data', (d) => {
        socket.destroy();
        const answer = d.toString();
        resolve(answer.startsWith('+PONG') || answer.startsWith('-NOAUTH'));
      });
      socket.once('error', () => resolve(false));
      socket.once('close', () => resolve(false));
    });
    if (ok) return;
    if (p && p.child.exitCode !== null)
      throw new Error(`redis-server exited:\n${p.stderrTail()}${p.lines.join('\n')}`);
    if (Date.now() > deadline)
      throw new Error(`redis-server on ${host}:${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
