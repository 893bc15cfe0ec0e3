// A redis-server for a local cluster: its own port and data folder, append-only persistence on, so
// that a restart loses nothing acknowledged.

import { mkdir } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { spawnProcess, stopProcess, type Spawned } from './process.ts';

export const REDIS_BIN = '/usr/bin/redis-server';

export interface RedisOptions {
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  /** Told of the child as soon as it is spawned (before it is ready). */
  readonly onSpawn?: (p: Spawned) => void;
}

export async function startRedisServer(o: RedisOptions): Promise<Spawned> {
  await mkdir(o.dir, { recursive: true });
  const p = spawnProcess(REDIS_BIN, [
    '--port',
    String(o.port),
    '--bind',
    o.host,
    '--dir',
    o.dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--daemonize',
    'no',
    '--protected-mode',
    'no',
  ]);
  o.onSpawn?.(p);
  // A server that never answers must not outlive this attempt (nothing else would stop it).
  await waitForPing(o.host, o.port, 10_000, p).catch(async (err: unknown) => {
    await stopProcess(p, 2000);
    throw err;
  });
  return p;
}

/** Polls PING with a deadline (a raw socket: no client library needed for this). */
export async function waitForPing(host: string, port: number, timeoutMs: number, p?: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port }, () => socket.write('PING\r\n'));
      socket.setTimeout(500, () => socket.destroy());
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d.toString().startsWith('+PONG'));
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
