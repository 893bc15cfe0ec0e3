// The pieces of a REST write's path timed alone, in-process, in two source trees side by side: each
// cut of issue 21 item 4 measured by itself, where the end-to-end bench (bench/rest-cpu.ts) cannot
// tell a 1% change from the machine's mood. Every piece is timed in rounds alternating the trees;
// the median ns per call is reported. What each piece runs is the tree's own code:
//   rate limit   RateLimiter.take for 20 members in turn
//   text check   the REST hook refusing lone surrogates, on a vote's and an add's request
//   add answer   the view of the one entry an add answers (viewQueueItem, or the whole room view
//                of which the older tree took the first item)
//   store read   MemoryStore.read of a held room (the token check of every write)
//   authenticate ServiceCore.authenticate of 20 members' tokens in turn (token cache, store read,
//                ban check, rate limit with its key)
//   store write  MemoryStore.submit of votes, 100 at a time, fsync off (encode, decide, log, apply)
//   commit metric (labels)  the commit histogram observed through prom-client's labels() per write
//   commit metric (cached)  the same through a LabelCache keyed by a string built per write
//   commit metric (by type) the same through children looked up by command type (src/node/node.ts)
//   request metric (cached)  the request histogram through a LabelCache keyed by a string built
//                per request (what the REST onResponse hook did); (nested caches): one LabelCache
//                per label, keyed by the values (what it does now)
//   request metric (by value) the same through maps keyed by route, method and status (it does now)
//   (the commit- and request-metric pieces compare ways of doing it within each tree, not the trees)
//
//   npx node bench/write-path-micro.ts --roots A_DIR,B_DIR [--rounds 5]

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Envelope, RoomState } from '../src/domain/index.ts';

type Module = Record<string, unknown>;
interface Tree {
  readonly root: string;
  readonly rate: { RateLimiter: new (what: string, limit: { rate: number; burst: number }) => unknown };
  readonly guards: Module;
  readonly domain: Module;
  readonly memory: Module;
  readonly service: Module;
  readonly tokens: Module;
}

async function load(root: string): Promise<Tree> {
  const src = (path: string): Promise<Module> => import(join(root, 'src', path)) as Promise<Module>;
  return {
    root,
    rate: (await src('node/rate-limit.ts')) as unknown as Tree['rate'],
    guards: await src('api/rest/guards.ts'),
    domain: await src('domain/index.ts'),
    memory: await src('store/memory/index.ts'),
    service: await src('node/service-core.ts'),
    tokens: await src('node/tokens.ts'),
  };
}

/** ns per call of `f` over `n` calls (after a warm-up of the same length). */
function time(n: number, f: (i: number) => void): number {
  for (let i = 0; i < n; i++) f(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  return Number(process.hrtime.bigint() - start) / n;
}

async function timeAsync(n: number, f: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < n; i++) await f(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f(i);
  return Number(process.hrtime.bigint() - start) / n;
}

let tick = 1_700_000_000_000;
function envelope(roomId: string, actor: string, command: object, commandId?: string): Envelope {
  tick += 1;
  return {
    commandId: commandId ?? `c-${tick}-${Math.random().toString(36).slice(2)}`,
    roomId,
    actor,
    at: tick,
    command,
  } as Envelope;
}

interface Store {
  submit(env: Envelope): Promise<{ result: { ok: boolean }; state: RoomState | null }>;
  read(roomId: string): Promise<RoomState | null>;
  close(): Promise<void>;
}

/** A room of 20 members and 30 queued entries (as the saturation bench makes), in a fresh store. */
async function storeWithRoom(tree: Tree, dir: string): Promise<{ store: Store; room: string }> {
  const open = tree.memory['openMemoryStore'] as (o: object) => Promise<Store>;
  const quiet = { info: () => undefined, warn: () => undefined };
  const store = await open({ dataDir: dir, fsync: false, logger: quiet });
  const room = 'micro-room';
  const ok = async (env: Envelope): Promise<void> => {
    const out = await store.submit(env);
    if (!out.result.ok) throw new Error(`refused: ${JSON.stringify(out.result)}`);
  };
  await ok(envelope(room, 'host', { type: 'createRoom', name: 'Micro', hostName: 'Host' }));
  for (let m = 0; m < 20; m++)
    await ok(envelope(room, `m${m}`, { type: 'join', memberId: `m${m}`, name: `M ${m}` }));
  for (let e = 0; e < 31; e++) {
    const track = {
      trackId: `t${e}`,
      title: `Title ${e}`,
      artist: 'Artist',
      album: 'Album',
      durationMs: 180_000,
    };
    await ok(envelope(room, `m${e % 20}`, { type: 'addTrack', entryId: `e${e}`, track }));
  }
  return { store, room };
}

async function measure(tree: Tree, dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const limiter = new tree.rate.RateLimiter('writes', { rate: 1e9, burst: 2e9 }) as {
    take(key: string): void;
  };
  const keys = Array.from({ length: 20 }, (_, i) => `room-${i % 10}/member-${i}`);
  out['rate limit'] = time(200_000, (i) => limiter.take(keys[i % keys.length]!));

  const hook = tree.guards['refuseIllFormedText'] as (r: object, reply: object, done: () => void) => void;
  const requests = [
    { body: { value: 1 }, query: {}, params: { roomId: 'micro-room', entryId: 'e-0123456789' } },
    {
      body: {
        track: { trackId: 'x1', title: 'A title', artist: 'An artist', album: 'An album', durationMs: 1 },
      },
      query: {},
      params: { roomId: 'micro-room' },
    },
  ];
  out['text check'] = time(200_000, (i) => hook(requests[i % 2]!, {}, () => undefined));

  const { Histogram, Registry } = await import('prom-client');
  const histogram = new Histogram({
    name: 'micro_commit_seconds',
    help: 'micro',
    labelNames: ['command', 'outcome'],
    registers: [new Registry()],
  });
  const types = ['vote', 'addTrack', 'removeEntry'];
  out['commit metric (labels)'] = time(200_000, (i) => histogram.labels(types[i % 3]!, 'ok').observe(0.001));
  const { LabelCache } = (await import(join(tree.root, 'src/api/label-cache.ts'))) as {
    LabelCache: new () => { get<T>(key: string, make: () => T): T };
  };
  const children = new LabelCache();
  out['commit metric (cached)'] = time(200_000, (i) => {
    const type = types[i % 3]!;
    children.get(`${type} ok`, () => histogram.labels(type, 'ok')).observe(0.001);
  });

  const byType = new Map<string, { ok: { observe(v: number): void } }>();
  out['commit metric (by type)'] = time(200_000, (i) => {
    const type = types[i % 3]!;
    let pair = byType.get(type);
    if (pair === undefined) {
      pair = { ok: histogram.labels(type, 'ok') };
      byType.set(type, pair);
    }
    pair.ok.observe(0.001);
  });

  const requests3 = new Histogram({
    name: 'micro_request_seconds',
    help: 'micro',
    labelNames: ['method', 'route', 'status'],
    registers: [new Registry()],
  });
  const routes = ['/v1/rooms/:roomId/queue/:entryId/vote', '/v1/rooms/:roomId/queue', '/v1/rooms/:roomId'];
  const methods = ['PUT', 'POST', 'GET'];
  const byString = new LabelCache();
  out['request metric (cached)'] = time(200_000, (i) => {
    const route = routes[i % 3]!;
    const method = methods[i % 3]!;
    const status = 200;
    byString
      .get(`${method} ${route} ${status}`, () => requests3.labels(method, route, String(status)))
      .observe(0.001);
  });
  const byValue = new Map<string, Map<string, Map<number, { observe(v: number): void }>>>();
  out['request metric (by value)'] = time(200_000, (i) => {
    const route = routes[i % 3]!;
    const method = methods[i % 3]!;
    const status = 200;
    let m = byValue.get(route);
    if (m === undefined)
      byValue.set(route, (m = new Map<string, Map<number, { observe(v: number): void }>>()));
    let s = m.get(method);
    if (s === undefined) m.set(method, (s = new Map<number, { observe(v: number): void }>()));
    let child = s.get(status);
    if (child === undefined) s.set(status, (child = requests3.labels(method, route, String(status))));
    child.observe(0.001);
  });

  // What the REST onResponse hook does now: one LabelCache per label, keyed by the values themselves.
  type Child = { observe(v: number): void };
  type Nested = { get<T>(key: string | number, make: () => T): T };
  const nested = new LabelCache();
  const newCache = (): Nested => new LabelCache();
  out['request metric (nested caches)'] = time(200_000, (i) => {
    const route = routes[i % 3]!;
    const method = methods[i % 3]!;
    const status = 200;
    nested
      .get(route, newCache)
      .get(method, newCache)
      .get<Child>(status, () => requests3.labels(method, route, String(status)))
      .observe(0.001);
  });

  const { store, room } = await storeWithRoom(tree, dir);
  try {
    const state = (await store.read(room))!;
    const viewQueueItem = tree.domain['viewQueueItem'] as
      ((s: RoomState, index: number, o: object) => unknown) | undefined;
    const viewRoom = tree.domain['viewRoom'] as (s: RoomState, o: object) => { queue: unknown[] };
    const now = Date.now();
    out['add answer'] = time(50_000, (i) =>
      viewQueueItem
        ? viewQueueItem(state, i % 30, { now, viewer: 'm1' })
        : viewRoom(state, { now, viewer: 'm1', offset: i % 30, limit: 1 }).queue[0],
    );
    out['store read'] = await timeAsync(300_000, () => store.read(room));
    const Signer = tree.tokens['TokenSigner'] as new (secret: string) => { sign(c: object): string };
    const Core = tree.service['ServiceCore'] as new (o: object) => {
      authenticate(token: string, roomId: string): Promise<unknown>;
    };
    const signer = new Signer('write-path-micro-secret-0123456789');
    const core = new Core({
      store,
      catalog: {},
      tokens: signer,
      readTimeoutMs: 1000,
      rates: {
        writesPerMember: { rate: 1e9, burst: 2e9 },
        roomsPerAddress: { rate: 1, burst: 1 },
        joinsPerAddress: { rate: 1, burst: 1 },
      },
    });
    const tokens = Array.from({ length: 20 }, (_, m) => signer.sign({ roomId: room, memberId: `m${m}` }));
    // Each request's token is a string of its own (as parsed from its header), not one shared.
    out['authenticate'] = await timeAsync(100_000, (i) =>
      core.authenticate(` ${tokens[i % 20]!}`.slice(1), room),
    );
    let v = 0;
    out['store write'] =
      (await timeAsync(400, async () => {
        const batch: ReturnType<Store['submit']>[] = [];
        for (let k = 0; k < 100; k++) {
          v++;
          const value = ([1, -1, 0] as const)[v % 3];
          batch.push(
            store.submit(envelope(room, `m${v % 20}`, { type: 'vote', entryId: `e${1 + (v % 30)}`, value })),
          );
        }
        for (const outcome of await Promise.all(batch)) {
          if (!(outcome as { result: { ok: boolean } }).result.ok) throw new Error('a vote was refused');
        }
      })) / 100;
  } finally {
    await store.close();
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { roots: { type: 'string' }, rounds: { type: 'string', default: '5' } },
  });
  const roots = (values.roots ?? '').split(',').filter((r) => r !== '');
  if (roots.length === 0) throw new Error('--roots A_DIR,B_DIR');
  const trees = await Promise.all(roots.map(load));
  const rounds = Math.min(20, Number(values.rounds));
  const results = new Map<string, Map<string, number[]>>(roots.map((r) => [r, new Map()]));
  const tmp = await mkdtemp(join(os.tmpdir(), 'chorus-micro-'));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [t, tree] of (r % 2 === 0 ? trees : [...trees].reverse()).entries()) {
        const figures = await measure(tree, join(tmp, `r${r}-${t}`));
        for (const [piece, ns] of Object.entries(figures)) {
          const byPiece = results.get(tree.root)!;
          byPiece.set(piece, [...(byPiece.get(piece) ?? []), ns]);
        }
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const pieces = [...results.get(roots[0]!)!.keys()];
  process.stdout.write(`median ns per call over ${rounds} rounds (load ${os.loadavg()[0]!.toFixed(2)}):\n`);
  process.stdout.write(`| piece | ${roots.join(' | ')} |\n|---|${roots.map(() => '---|').join('')}\n`);
  for (const piece of pieces) {
    const cells = roots.map((root) => median(results.get(root)!.get(piece) ?? []).toFixed(0));
    process.stdout.write(`| ${piece} | ${cells.join(' | ')} |\n`);
  }
}

await main();
