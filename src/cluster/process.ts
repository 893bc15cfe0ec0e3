// A child process that says it is ready by printing a line, with its output kept for diagnosis.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface Spawned {
  readonly child: ChildProcess;
  /** stdout lines seen so far. */
  readonly lines: string[];
  /** The last few KB of stderr, for error messages. */
  stderrTail(): string;
  /** Resolves with the exit code/signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnProcess(
  command: string,
  args: readonly string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    onLine?: (line: string) => void;
    onStderr?: (text: string) => void;
    /** Appends everything the process prints (stdout and stderr) to this file too. */
    logFile?: string;
  } = {},
): Spawned {
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (options.logFile !== undefined) {
    const log = createWriteStream(options.logFile, { flags: 'a', mode: 0o600 });
    log.on('error', () => undefined); // a log that cannot be written must not take the process down
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('close', () => log.end());
  }
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      lines.push(line);
      options.onLine?.(line);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
    options.onStderr?.(chunk);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      stderr += `\n${err.message}`;
      resolve({ code: -1, signal: null });
    });
  });
  return { child, lines, stderrTail: () => stderr, exited };
}

/** Waits until a stdout line matches, the process exits, or the deadline passes. */
export async function waitForLine(
  p: Spawned,
  pattern: RegExp,
  timeoutMs: number,
  what: string,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void p.exited.then(() => (exited = true));
  for (;;) {
    for (const line of p.lines) {
      const m = pattern.exec(line);
      if (m) return m;
    }
    if (exited) throw new Error(`${what} exited before it was ready:\n${p.stderrTail()}`);
    if (Date.now() > deadline)
      throw new Error(`${what} was not ready within ${timeoutMs} ms:\n${p.stderrTail()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SIGTERM, then SIGKILL if it has not exited within graceMs. */
export async function stopProcess(
  p: Spawned,
  graceMs = 10_000,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}
