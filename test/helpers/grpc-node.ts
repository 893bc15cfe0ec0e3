// A real `chorus serve` child process for the gRPC integration tests: any free REST and gRPC ports,
// a fresh data dir, its `rest URL` and `grpc HOST:PORT` lines read from stdout with a deadline, and
// a graceful stop (SIGTERM, then the exit code; SIGKILL if it hangs). Nothing started here outlives
// the test process.

import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Stubs } from '../../src/api/grpc/client.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHORUS_MAIN = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');

export interface GrpcNode {
  readonly restUrl: string;
  readonly grpcAddress: string;
  readonly dataDir: string;
  /** Stubs of every service, on one channel (closed by stop()). */
  readonly stubs: Stubs;
  readonly child: ChildProcess;
  /** True until the process has exited. */
  running(): boolean;
  stderr(): string;
  /** Sends SIGTERM once (a second SIGTERM would make chorus exit at once, on purpose). */
  terminate(): void;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** terminate(), then the exit code (SIGKILL after `timeoutMs`); closes the stubs. */
  stop(timeoutMs?: number): Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The environment without CHORUS_* variables, so the developer's shell cannot leak in. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CHORUS_')));
}

export async function startGrpcNode(
  args: readonly string[] = [],
  startTimeoutMs = 30_000,
): Promise<GrpcNode> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'chorus-grpc-'));
  const child = spawn(
    process.execPath,
    [
      CHORUS_MAIN,
      'serve',
      '--port',
      '0',
      '--grpc-port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
      ...args,
    ],
    { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exited = true;
      live.delete(child);
      rmSync(dataDir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const ready = await new Promise<{ restUrl: string; grpcAddress: string }>((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`chorus serve was not ready within ${startTimeoutMs} ms; stderr:\n${stderr}`));
    }, startTimeoutMs);
    const check = (): void => {
      const rest = /^rest (\S+)$/m.exec(stdout);
      const grpc = /^grpc (\S+)$/m.exec(stdout);
      if (rest && grpc) {
        clearTimeout(deadline);
        resolve({ restUrl: rest[1]!, grpcAddress: grpc[1]! });
      }
    };
    child.stdout.on('data', check);
    void exit.then((code) => {
      clearTimeout(deadline);
      reject(new Error(`chorus serve exited (${code}) before it was ready; stderr:\n${stderr}`));
    });
  });

  const stubs = connect(ready.grpcAddress);
  let terminated = false;
  const terminate = (): void => {
    if (terminated || exited) return;
    terminated = true;
    child.kill('SIGTERM');
  };
  return {
    ...ready,
    dataDir,
    stubs,
    child,
    running: () => !exited,
    stderr: () => stderr,
    terminate,
    exited: exit,
    async stop(timeoutMs = 20_000) {
      stubs.close();
      if (exited) return exit;
      terminate();
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exit;
      clearTimeout(timer);
      await rm(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
