// What the end-to-end tests stand on: a real `chorus serve` child process (free port, temp data dir,
// restartable on the same port and data), Debian's Chromium driven by playwright-core, and a
// polling helper with a deadline (the tests never sleep a fixed time).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = join(import.meta.dirname, '..', '..');
const CHORUS = join(ROOT, 'bin', 'chorus.js');

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(import.meta.dirname, 'screenshots');

export interface NodeProcess {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /**
   * Stops the node (SIGTERM, graceful) and starts it again on the same port and data dir; `whileDown`
   * runs in between (to look at pages while there is no server).
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  /** Stops the node and removes its data dir. */
  close(): Promise<void>;
}

/**
 * Starts `chorus serve` on a free port with a fresh data dir; resolves once it prints its URL.
 * `extraArgs` go after the defaults (e.g. `--music-dir DIR`).
 */
export async function startNode(extraArgs: readonly string[] = []): Promise<NodeProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'chorus-e2e-'));
  let child: ChildProcess;
  let stderr = '';
  let port = 0;
  // gRPC is not what these tests use: any free port, so parallel runs and restarts never collide.
  const grpcPort = 0;

  const launch = async (): Promise<string> => {
    child = spawn(
      process.execPath,
      [
        CHORUS,
        'serve',
        '--port',
        String(port),
        '--grpc-port',
        String(grpcPort),
        '--data-dir',
        dataDir,
        '--log-level',
        'warn',
        ...extraArgs,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8000);
    });
    const proc = child;
    return new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`chorus serve did not start within 30 s\n${stderr}`));
      }, 30_000);
      proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        const match = /^rest (http:\/\/\S+)$/m.exec(out);
        // A node given a music folder scans it after it listens: ready once it says it is done.
        if (match && (!extraArgs.includes('--music-dir') || /^music \d+ tracks$/m.test(out))) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`chorus serve exited with ${code} before it was ready\n${stderr}`));
      });
    });
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const url = await launch();
  port = Number(new URL(url).port);
  return {
    url,
    port,
    dataDir,
    restart: async (whileDown?: () => Promise<void>) => {
      await stop();
      await whileDown?.();
      await launch();
    },
    close: async () => {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** `extraArgs`: more Chromium switches (e.g. `--mute-audio`). */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH). ` +
        'The e2e tests drive a real browser and never download one.',
    );
  }
  // launch() gives every run a fresh, temporary profile (user data dir) and removes it on close.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      ...extraArgs,
    ],
  });
}

/**
 * Ann creates a room on a new page of her own and closes the recovery-key dialog; resolves with the
 * page and the room's id.
 */
export async function createRoom(
  browser: Browser,
  url: string,
  name: string,
  viewport = { width: 1280, height: 800 },
): Promise<[Page, string]> {
  const page = await (await browser.newContext({ viewport })).newPage();
  await page.goto(`${url}/`);
  await page.getByLabel('Room name').fill(name);
  await page.getByRole('region', { name: 'Start a room' }).getByLabel('Your name').fill('Ann');
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.waitForURL(/\/r\/[a-z0-9-]+$/);
  // The room opens with its host recovery key, shown once in a "save it" dialog.
  await page.getByRole('button', { name: 'I saved it' }).click();
  return [page, new URL(page.url()).pathname.split('/')[2]!];
}
