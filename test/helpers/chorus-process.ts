// Real `chorus` child processes for integration tests: start `chorus serve` (or any other
// subcommand, e.g. `cluster`), wait for its endpoint lines on stdout with a deadline, keep its
// stderr for failure messages, stop it gracefully (SIGTERM, awaiting the exit code) or kill it
// (SIGKILL). Temp data dirs made here are removed by cleanupChorus() (call it in `after`) and, as a
// fallback, when the test process exits.
//
//   const node = await startChorus({ args: ['--read-timeout-ms', '200'] });
//   await fetch(`${node.restUrl}/healthz`);
//   const code = await node.stop(); // 0 after a graceful stop
//   const again = await startChorus({ dataDir: node.dataDir }); // restart on the same data

import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHORUS_MAIN = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');

export interface ChorusOptions {
  /** Subcommand and its leading words; default ['serve']. */
  readonly command?: readonly string[];
  /** Extra arguments after the defaults (they may repeat a default flag: the last one wins). */
  readonly args?: readonly string[];
  /** Data dir to use (e.g. to restart on the same data); default a fresh temp dir. null: no --data-dir. */
  readonly dataDir?: string | null;
  /** --port; default 0 (any free port). null: no --port flag. */
  readonly port?: number | null;
  /** --grpc-port; default 0 so concurrent nodes never collide. null: no --grpc-port flag. */
  readonly grpcPort?: number | null;
  /** --log-level; default 'warn' (stderr stays small under load). null: no --log-level flag. */
  readonly logLevel?: string | null;
  /** Extra environment. Inherited CHORUS_* variables are removed so the host's shell cannot leak in. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for readiness; default 30 s. */
  readonly startTimeoutMs?: number;
  /**
   * When the process counts as ready, from the stdout lines so far. Default: a `rest URL` line
   * (plus a `grpc ADDR` line when waitForGrpc). A cluster waits for its `node N ...` lines here.
   */
  readonly ready?: (lines: readonly string[]) => boolean;
  /** Also wait for a `grpc HOST:PORT` line (default false). */
  readonly waitForGrpc?: boolean;
}

export interface NodeLine {
  readonly n: number;
  readonly restUrl: string | null;
  readonly grpcAddress: string | null;
  readonly pid: number | null;
  readonly line: string;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ChorusProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The first `rest URL` line's URL (no trailing slash). */
  readonly restUrl: string;
  /** The first `grpc HOST:PORT` line's address, if one has appeared. */
  readonly grpcAddress: string | null;
  /** The data dir passed with --data-dir (null when none). */
  readonly dataDir: string | null;
  /** The argv after the Node binary. */
  readonly argv: readonly string[];
  /** Every stdout line so far. */
  readonly lines: readonly string[];
  /** `node N rest URL grpc ADDR pid PID` lines (cluster output), parsed. */
  nodes(): NodeLine[];
  stdout(): string;
  stderr(): string;
  /** True until the process has exited. */
  readonly running: boolean;
  /** Resolves when the process exits. */
  readonly exited: Promise<ExitInfo>;
  /** Waits for a stdout line matching `pattern`; rejects at the deadline or when the process exits. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /**
   * SIGTERM (unless one was sent already), then waits for the exit code; after timeoutMs (default
   * 20 s) it SIGKILLs and rejects.
   */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<ExitInfo>;
  /** Sends any signal (e.g. SIGINT). */
  signal(signal: NodeJS.Signals): void;
}

const liveProcesses = new Set<ChorusProcess>();
const tempDirs = new Set<string>();

process.once('exit', () => {
  for (const p of liveProcesses) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A temp dir removed by cleanupChorus() (or at exit). */
export async function makeTempDir(prefix = 'chorus-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Kills every process this helper started that still runs, and removes the temp dirs. */
export async function cleanupChorus(): Promise<void> {
  await Promise.all([...liveProcesses].map((p) => p.kill()));
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Environment for a child: the parent's, without CHORUS_* variables, plus `extra`. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CHORUS_')) env[k] = v;
  return { ...env, ...extra };
}

function describeProcess(argv: readonly string[], out: string, err: string): string {
  const tail = (s: string): string => (s.length > 4000 ? `...${s.slice(-4000)}` : s);
  return `\n  command: chorus ${argv.slice(1).join(' ')}\n  stdout:\n${tail(out)}\n  stderr:\n${tail(err)}`;
}

const REST_LINE = /^rest (\S+)/;
const GRPC_LINE = /^grpc (\S+)/;
const MUSIC_LINE = /^music \d+ tracks$/;

/** Starts a chorus child process and resolves once it is ready (its endpoint lines printed). */
export async function startChorus(options: ChorusOptions = {}): Promise<ChorusProcess> {
  const dataDir = options.dataDir === undefined ? await makeTempDir('chorus-data-') : options.dataDir;
  const argv: string[] = [CHORUS_MAIN, ...(options.command ?? ['serve'])];
  const port = options.port === undefined ? 0 : options.port;
  const grpcPort = options.grpcPort === undefined ? 0 : options.grpcPort;
  const logLevel = options.logLevel === undefined ? 'warn' : options.logLevel;
  if (port !== null) argv.push('--port', String(port));
  if (grpcPort !== null) argv.push('--grpc-port', String(grpcPort));
  if (dataDir !== null) argv.push('--data-dir', dataDir);
  if (logLevel !== null) argv.push('--log-level', logLevel);
  argv.push(...(options.args ?? []));

  const child = spawn(process.execPath, argv, {
    cwd: REPO_ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const lines: string[] = [];
  let partial = '';
  const lineWaiters = new Set<() => void>();
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      lines.push(partial.slice(0, nl).replace(/\r$/, ''));
      partial = partial.slice(nl + 1);
    }
    for (const wake of [...lineWaiters]) wake();
  });
  child.stderr.on('data', (chunk: string) => {
    err += chunk;
  });

  let exitInfo: ExitInfo | null = null;
  let termSent = false;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
      for (const wake of [...lineWaiters]) wake();
    });
  });
  // A spawn failure (no such binary) surfaces as 'error' without 'exit'.
  child.once('error', (e) => {
    err += `\nspawn error: ${e.message}`;
    if (exitInfo === null) {
      exitInfo = { code: null, signal: null };
      for (const wake of [...lineWaiters]) wake();
    }
  });

  const waitFor = <T>(check: () => T | null, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const tryNow = (): boolean => {
        const found = check();
        if (found !== null) {
          done();
          resolve(found);
          return true;
        }
        if (exitInfo !== null) {
          done();
          reject(
            new Error(
              `chorus exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before ${what}` +
                describeProcess(argv, out, err),
            ),
          );
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} within ${timeoutMs} ms${describeProcess(argv, out, err)}`));
      }, timeoutMs);
      const wake = (): void => void tryNow();
      const done = (): void => {
        clearTimeout(timer);
        lineWaiters.delete(wake);
      };
      lineWaiters.add(wake);
      tryNow();
    });

  const handle: ChorusProcess = {
    child,
    pid: child.pid ?? -1,
    get restUrl() {
      for (const line of lines) {
        const m = REST_LINE.exec(line);
        if (m) return m[1]!.replace(/\/+$/, '');
      }
      return '';
    },
    get grpcAddress() {
      for (const line of lines) {
        const m = GRPC_LINE.exec(line);
        if (m) return m[1]!;
      }
      return null;
    },
    dataDir,
    argv,
    lines,
    nodes() {
      const parsed: NodeLine[] = [];
      for (const line of lines) {
        const m = /^node (\d+)\b/.exec(line);
        if (!m) continue;
        parsed.push({
          n: Number(m[1]),
          restUrl: /\brest (\S+)/.exec(line)?.[1]?.replace(/\/+$/, '') ?? null,
          grpcAddress: /\bgrpc (\S+)/.exec(line)?.[1] ?? null,
          pid: ((p) => (p ? Number(p) : null))(/\bpid (\d+)/.exec(line)?.[1]),
          line,
        });
      }
      return parsed;
    },
    stdout: () => out,
    stderr: () => err,
    get running() {
      return exitInfo === null;
    },
    exited,
    waitForLine(pattern, timeoutMs = 10_000) {
      return waitFor(
        () => {
          for (const line of lines) {
            const m = pattern.exec(line);
            if (m) return m;
          }
          return null;
        },
        timeoutMs,
        `stdout line matching ${String(pattern)}`,
      );
    },
    async stop(timeoutMs = 20_000) {
      // One SIGTERM only: a second one means "exit now" to chorus.
      if (exitInfo === null && !termSent) child.kill('SIGTERM');
      termSent = true;
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        exited,
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (result === 'timeout') {
        child.kill('SIGKILL');
        await exited;
        liveProcesses.delete(handle);
        throw new Error(
          `chorus did not exit within ${timeoutMs} ms of SIGTERM${describeProcess(argv, out, err)}`,
        );
      }
      liveProcesses.delete(handle);
      return result.code;
    },
    async kill() {
      if (exitInfo === null) child.kill('SIGKILL');
      const info = await exited;
      liveProcesses.delete(handle);
      return info;
    },
    signal(signal) {
      if (exitInfo === null) child.kill(signal);
      if (signal === 'SIGTERM') termSent = true;
    },
  };
  liveProcesses.add(handle);
  void exited.then(() => liveProcesses.delete(handle));

  // A node given a music folder scans it after it listens: its tracks are there once it says so.
  const scansMusic = (options.args ?? []).includes('--music-dir');
  const ready =
    options.ready ??
    ((ls: readonly string[]) =>
      ls.some((l) => REST_LINE.test(l)) &&
      (!options.waitForGrpc || ls.some((l) => GRPC_LINE.test(l))) &&
      (!scansMusic || ls.some((l) => MUSIC_LINE.test(l))));
  try {
    await waitFor(() => (ready(lines) ? true : null), options.startTimeoutMs ?? 30_000, 'ready output');
  } catch (e) {
    await handle.kill();
    throw e;
  }
  return handle;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `chorus ARGS...` to completion (client commands, --help, bad flags). */
export async function runChorus(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [CHORUS_MAIN, ...args], {
    cwd: REPO_ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  if (timedOut) {
    throw new Error(
      `chorus ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`,
    );
  }
  return { code, signal, stdout, stderr };
}
