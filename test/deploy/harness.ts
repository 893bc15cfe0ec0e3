// Tools of the deploy tests (npm run test:deploy, after deploy/test/prepare.sh has built the images):
// podman and docker compose as child processes with deadlines, a podman API service for compose to
// talk to, compose projects that are always taken down, requests made from inside a container to
// that container's own node, and a bounded write load with acknowledged writes recorded.
// Invariants: the host reaches containers only through ports published on 127.0.0.1; everything
// started here is stopped and removed by `cleanup`, also when a test fails.

import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE = process.env['CHORUS_DEPLOY_CACHE'] ?? '/var/cache/chorus-deploy';
export const IMAGE = process.env['CHORUS_IMAGE'] ?? 'localhost/chorus:test';
/** Compose projects of these tests are named with this prefix (prepare.sh removes leftovers). */
export const PROJECT_PREFIX = 'chorus-deploy-test';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end (or kills it at the deadline); never throws for a non-zero exit. */
export function run(
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        // prepare.sh puts the docker CLI and kubectl in CACHE/bin when the machine has none.
        env: {
          ...process.env,
          PATH: `${process.env['PATH'] ?? ''}:${join(CACHE, 'bin')}`,
          ...(options.env ?? {}),
        },
        timeout: options.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        cwd: ROOT,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr: err && code === -1 ? `${stderr}\n${err.message}` : stderr });
      },
    );
  });
}

/** Runs a command and returns its stdout; a non-zero exit fails with the command and its stderr. */
export async function must(
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-4000)}${r.stdout.slice(-2000)}`,
    );
  }
  return r.stdout;
}

export const podman = (...args: string[]): Promise<string> => must('podman', args);

/** Polls `probe` until it returns a value other than undefined, or fails at the deadline. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      assert.fail(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Cleanup steps, run last-registered first; each runs even if an earlier one failed. */
export class Cleanup {
  private readonly steps: Array<() => Promise<unknown>> = [];

  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}

/** The podman API service docker compose talks to, on a socket of its own; stopped by cleanup. */
export async function startPodmanService(cleanup: Cleanup): Promise<NodeJS.ProcessEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-deploy-'));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  const socket = join(dir, 'podman.sock');
  const child: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  cleanup.add(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  });
  const env: NodeJS.ProcessEnv = {
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: join(CACHE, 'docker'),
  };
  await eventually(
    async () => {
      if (child.exitCode !== null) assert.fail(`podman system service exited: ${stderr}`);
      if (!existsSync(socket)) return undefined;
      return (await run('docker', ['version', '--format', '{{.Server.Version}}'], { env })).code === 0
        ? true
        : undefined;
    },
    'the podman API service',
    20_000,
  );
  return env;
}

/** Secret files for a compose project (mode 0644 in a 0700 folder: readable by the containers' users). */
export async function writeSecrets(cleanup: Cleanup): Promise<NodeJS.ProcessEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-secrets-'));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const chorusSecret = join(dir, 'chorus_secret');
  const redisPassword = join(dir, 'redis_password');
  await writeFile(chorusSecret, `${randomUUID()}${randomUUID()}\n`);
  await writeFile(redisPassword, `${randomUUID().replaceAll('-', '')}\n`);
  await chmod(chorusSecret, 0o644);
  await chmod(redisPassword, 0o644);
  return { CHORUS_SECRET_FILE: chorusSecret, REDIS_PASSWORD_FILE: redisPassword };
}

/** One docker compose project of deploy/compose/, brought down (with its volumes) by cleanup. */
export class ComposeProject {
  readonly name: string;
  readonly file: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(file: string, name: string, env: NodeJS.ProcessEnv, cleanup: Cleanup) {
    this.file = join(ROOT, 'deploy', 'compose', file);
    this.name = `${PROJECT_PREFIX}-${name}`;
    this.env = { CHORUS_IMAGE: IMAGE, ...env };
    cleanup.add(() => this.down());
  }

  compose(args: readonly string[], timeoutMs = 120_000): Promise<string> {
    return must('docker', ['compose', '-p', this.name, '-f', this.file, ...args], {
      env: this.env,
      timeoutMs,
    });
  }

  /** Starts (or rescales) the project with `nodes` Chorus containers; keeps running ones as they are. */
  async up(nodes: number): Promise<void> {
    await this.compose(['up', '-d', '--no-recreate', '--scale', `chorus=${nodes}`]);
  }

  async down(): Promise<void> {
    await this.compose(['down', '--volumes', '--remove-orphans', '-t', '10']);
  }

  /** Names of the project's running containers of `service`. */
  async containers(service: string): Promise<string[]> {
    const out = await podman(
      'ps',
      '--filter',
      `label=com.docker.compose.project=${this.name}`,
      '--filter',
      `label=com.docker.compose.service=${service}`,
      '--format',
      '{{.Names}}',
    );
    return out.split('\n').filter(Boolean).sort();
  }
}

/** An answer of a node, read from inside its container (the host never reaches a container's own address). */
export interface NodeAnswer {
  readonly status: number;
  readonly body: string;
}

const FETCH_INSIDE = `fetch('http://127.0.0.1:' + (process.env.CHORUS_PORT || 8080) + process.argv[1])
  .then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))
  .catch((e) => process.stdout.write(JSON.stringify({ status: 0, body: String(e) })));`;

/** GET `path` from the node in `container`, with the node binary of the image itself. */
export async function getInside(container: string, path: string): Promise<NodeAnswer> {
  const out = await must('podman', ['exec', container, 'node', '-e', FETCH_INSIDE, path], {
    timeoutMs: 30_000,
  });
  return JSON.parse(out) as NodeAnswer;
}

/** The pid, on the host, of a container's main process. */
export async function hostPid(container: string): Promise<number> {
  return Number((await podman('inspect', '--format', '{{.State.Pid}}', container)).trim());
}

/** A write API reached through the load balancer: REST or gRPC. */
export interface WriteApi {
  /** Creates a room with limits lifted (autoplay off: every added track stays queued); the host's token. */
  createRoom(roomId: string): Promise<string>;
  /** Adds a track of the caller's own; resolves with the room version once acknowledged, throws otherwise. */
  addTrack(roomId: string, token: string, trackId: string, idempotencyKey: string): Promise<number>;
  close(): void;
}

export interface LoadResult {
  /** Track ids whose add was acknowledged. */
  readonly acknowledged: string[];
  /** Track ids given up on after every retry failed (none expected: retries go to another node). */
  readonly failed: string[];
  /** Failed attempts that a retry with the same idempotency key then got acknowledged. */
  readonly retried: number;
  readonly maxVersion: number;
}

/**
 * Adds tracks `tag-0`, `tag-1`, … with `writers` concurrent writers, each pausing `paceMs` between
 * writes, until `stop()` is called after at least `min` writes were started, and never more than `max`
 * (bounded: a room view shows at most 1,000 queued entries, so a whole test stays under that). A failed attempt is retried with
 * the same idempotency key (so it applies at most once) up to 30 times, 100 ms apart.
 */
export function startLoad(
  api: WriteApi,
  roomId: string,
  token: string,
  tag: string,
  options: { writers?: number; min?: number; max?: number; paceMs?: number } = {},
): { stop(): Promise<LoadResult>; acknowledged(): number } {
  const { writers = 4, min = 20, max = 150, paceMs = 40 } = options;
  const acknowledged: string[] = [];
  const failed: string[] = [];
  let retried = 0;
  let maxVersion = 0;
  let started = 0;
  let stopping = false;
  const writer = async (): Promise<void> => {
    while (started < max && (!stopping || started < min)) {
      const trackId = `${tag}-${started++}`;
      const key = randomUUID();
      let done = false;
      for (let attempt = 0; attempt < 30 && !done; attempt++) {
        try {
          maxVersion = Math.max(maxVersion, await api.addTrack(roomId, token, trackId, key));
          acknowledged.push(trackId);
          done = true;
          if (attempt > 0) retried++;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      if (!done) failed.push(trackId);
      // Paced, so the load spans the scaling or crash it runs beside instead of ending before it.
      await new Promise((resolve) => setTimeout(resolve, paceMs));
    }
  };
  const running = Promise.all(Array.from({ length: writers }, writer));
  return {
    acknowledged: () => acknowledged.length,
    async stop(): Promise<LoadResult> {
      stopping = true;
      await running;
      return { acknowledged, failed, retried, maxVersion };
    },
  };
}

/**
 * Checks every running Chorus node of the project: each answers the room at `minVersion` or later,
 * all at the same version with the same queue, holding every acknowledged track. Returns the version.
 */
export async function checkNodesAgree(
  project: ComposeProject,
  roomId: string,
  minVersion: number,
  acknowledged: readonly string[],
  expectedNodes: number,
): Promise<number> {
  const nodes = await project.containers('chorus');
  assert.equal(nodes.length, expectedNodes, `running chorus containers: ${nodes.join(', ')}`);
  const views = await Promise.all(
    nodes.map(async (node) => {
      const answer = await eventually(
        async () => {
          const a = await getInside(node, `/v1/rooms/${roomId}?minVersion=${minVersion}&limit=1000`);
          return a.status === 200 ? a : undefined;
        },
        `${node} to answer room ${roomId} at version ${minVersion}`,
        60_000,
      );
      return parseRoom(node, answer.body);
    }),
  );
  // Nodes may trail the newest write by a tailing interval: compare them at the highest version seen.
  const top = Math.max(...views.map((v) => v.version));
  const settled =
    top === Math.min(...views.map((v) => v.version))
      ? views
      : await Promise.all(
          nodes.map(async (node) => {
            const a = await getInside(node, `/v1/rooms/${roomId}?minVersion=${top}&limit=1000`);
            assert.equal(a.status, 200, `${node}: ${a.body}`);
            return parseRoom(node, a.body);
          }),
        );
  const first = settled[0]!;
  for (const view of settled) {
    assert.equal(
      view.version,
      first.version,
      `${view.node} is at ${view.version}, ${first.node} at ${first.version}`,
    );
    assert.deepEqual(view.tracks, first.tracks, `${view.node} and ${first.node} disagree on the queue`);
  }
  const held = new Set(first.tracks);
  const lost = acknowledged.filter((t) => !held.has(t));
  assert.deepEqual(lost, [], `acknowledged adds missing from room ${roomId}`);
  return first.version;
}

function parseRoom(node: string, body: string): { node: string; version: number; tracks: string[] } {
  const room = JSON.parse(body) as {
    version: number;
    queueLength: number;
    queue: Array<{ track: { trackId: string } }>;
  };
  assert.equal(room.queue.length, room.queueLength, `${node}: the view shows part of the queue only`);
  return { node, version: room.version, tracks: room.queue.map((e) => e.track.trackId) };
}
