// A real redis-server for tests: its own free loopback port and temporary data dir, never the
// default port. It can be stopped and started again on the same port and data (to test outages and
// persistence); bench/lib/fault-proxy.ts cuts one client off from it (a network partition).
//
//   const redis = await startRedis({ appendonly: true });
//   ... redis.url ...
//   await redis.stop(); // kills the process and removes the data dir

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { freePort } from '../../src/cluster/ports.ts';

export interface StartRedisOptions {
  /** Turn on the append-only file (persistence across restarts). Default false: no persistence. */
  readonly appendonly?: boolean;
  /** fsync policy of the AOF. 'always' makes every acknowledged write survive a SIGKILL. Default 'everysec'. */
  readonly appendfsync?: 'always' | 'everysec' | 'no';
  /** Require this password (requirepass); the url then carries it. */
  readonly password?: string;
  /** More redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  readonly args?: readonly string[];
  /** Path of the redis-server binary. Default: redis-server on PATH. */
  readonly binary?: string;
  /** Serve TLS only (no plain port), with these files (see createTlsFiles); the url is then rediss://. */
  readonly tls?: TlsFiles;
}

export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface RedisServer {
  /** redis://[:password@]127.0.0.1:port */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly running: boolean;
  /** Stops the process but keeps the data dir: SIGTERM (Redis saves its AOF) or SIGKILL (a crash). */
  halt(opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** Starts the process again on the same port and data dir, and waits until it answers PING. */
  resume(): Promise<void>;
  /** halt() then resume(). */
  restart(opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** Stops the process for good and removes the data dir. Idempotent. */
  stop(): Promise<void>;
  /** The last lines redis-server printed, for failure messages. */
  log(): string;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

// Whatever happens to the test process, no redis-server outlives it.
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'chorus-redis-'));
  const ca = opts.tls ? await readFile(opts.tls.caFile) : undefined;
  const listen = opts.tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        opts.tls.certFile,
        '--tls-key-file',
        opts.tls.keyFile,
        '--tls-ca-cert-file',
        opts.tls.caFile,
        '--tls-auth-clients',
        'no',
      ]
    : ['--port', String(port)];
  const args = [
    ...listen,
    '--bind',
    '127.0.0.1',
    '--dir',
    dataDir,
    '--save',
    '',
    '--appendonly',
    opts.appendonly ? 'yes' : 'no',
    '--appendfsync',
    opts.appendfsync ?? 'everysec',
    '--daemonize',
    'no',
    '--logfile',
    '',
    ...(opts.password !== undefined ? ['--requirepass', opts.password] : []),
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | null = null;
  let output = '';
  let stopped = false;

  const spawnServer = async (): Promise<void> => {
    const proc = spawn(opts.binary ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    children.add(proc);
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-8000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exited = false;
    proc.on('exit', () => {
      exited = true;
      children.delete(proc);
    });
    const spawnError = new Promise<never>((_, reject) => proc.once('error', reject));
    spawnError.catch(() => {});
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited) throw new Error(`redis-server exited at start:\n${output}`);
      if (await Promise.race([ping(port, opts.password, ca), spawnError])) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(
          `redis-server did not answer PING on port ${port} within ${START_TIMEOUT_MS} ms:\n${output}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const halt = async ({ signal = 'SIGTERM' }: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  const resume = async (): Promise<void> => {
    if (stopped) throw new Error('this redis-server was stopped for good');
    if (child) return;
    await spawnServer();
  };

  await spawnServer();
  const auth = opts.password !== undefined ? `:${encodeURIComponent(opts.password)}@` : '';
  return {
    url: `${opts.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`,
    port,
    dataDir,
    get running() {
      return child !== null;
    },
    halt,
    resume,
    async restart(o) {
      await halt(o);
      await resume();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt({ signal: 'SIGKILL' });
      await rm(dataDir, { recursive: true, force: true });
    },
    log: () => output,
  };
}

/** True when the server at port answers PING with PONG (false on refusal, LOADING, or no answer). */
function ping(port: number, password: string | undefined, ca: Buffer | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: net.Socket = ca
      ? tls.connect({ port, host: '127.0.0.1', ca, servername: 'localhost' })
      : net.connect({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on(ca ? 'secureConnect' : 'connect', () => {
      const auth = password !== undefined ? resp(['AUTH', password]) : '';
      socket.write(auth + resp(['PING']));
    });
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('+PONG')) done(true);
      else if (reply.includes('-')) done(false);
    });
  });
}

function resp(parts: readonly string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

/**
 * A throw-away CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI in
 * `dir` (which the caller removes).
 */
export async function createTlsFiles(dir: string): Promise<TlsFiles> {
  const run = promisify(execFile);
  const file = (name: string): string => path.join(dir, name);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=chorus-test-ca',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
  ]);
  await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', [
    'x509',
    '-req',
    '-days',
    '1',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-extfile',
    file('server.ext'),
    '-out',
    file('server.crt'),
  ]);
  return { caFile: file('ca.crt'), certFile: file('server.crt'), keyFile: file('server.key') };
}

export interface StartSentinelOptions {
  /** The name the sentinel monitors the master under (the last part of a redis-sentinel:// URL). */
  readonly masterName: string;
  readonly masterPort: number;
  /** The master's requirepass, if any (sentinel auth-pass). */
  readonly masterPassword?: string;
  /** How long the master must be silent before it counts as down. Default 1000 ms. */
  readonly downAfterMs?: number;
  /** Default 5000 ms. */
  readonly failoverTimeoutMs?: number;
  readonly binary?: string;
}

export interface SentinelServer {
  readonly port: number;
  /** The temporary dir holding the config file Sentinel rewrites. */
  readonly dir: string;
  /** Kills the process and removes the dir. Idempotent. */
  stop(): Promise<void>;
  log(): string;
}

/**
 * A Redis Sentinel (`redis-server <conf> --sentinel`) on a free loopback port, monitoring one master
 * on 127.0.0.1 with quorum 1. Its config file lives in a temporary dir because Sentinel rewrites it.
 */
export async function startSentinel(opts: StartSentinelOptions): Promise<SentinelServer> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'chorus-sentinel-'));
  const name = opts.masterName;
  const conf = path.join(dir, 'sentinel.conf');
  await writeFile(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      'daemonize no',
      'logfile ""',
      `sentinel monitor ${name} 127.0.0.1 ${opts.masterPort} 1`,
      `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${name} ${opts.failoverTimeoutMs ?? 5000}`,
      ...(opts.masterPassword !== undefined ? [`sentinel auth-pass ${name} ${opts.masterPassword}`] : []),
      '',
    ].join('\n'),
  );
  const proc = spawn(opts.binary ?? 'redis-server', [conf, '--sentinel'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-8000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    proc.on('exit', () => {
      exited = true;
      children.delete(proc);
      resolve();
    });
  });
  const spawnError = new Promise<never>((_, reject) => proc.once('error', reject));
  spawnError.catch(() => {});
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      proc.kill('SIGKILL');
      await exit;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`redis sentinel exited at start:\n${output}`);
    }
    if (await Promise.race([ping(port, undefined, undefined), spawnError])) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `redis sentinel did not answer PING on port ${port} within ${START_TIMEOUT_MS} ms:\n${output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { port, dir, stop, log: () => output };
}
