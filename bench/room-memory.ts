// Memory per loaded room and write latency against rooms held, on the embedded store in-process
// (issue 21 item 3), with and without eviction. Not the REST figure of bench/node-scale.ts: this
// isolates the store (no HTTP, no tokens), so that what eviction saves is measured on its own.
//
//   npx node --expose-gc bench/room-memory.ts [--rooms 100000] [--active 1000] [--writes 4000]
//
// Steps: seed R rooms (create, join, add: like the node-scale bench's rooms) into a fresh data dir,
// close (a snapshot with its room index); measure heap with every room loaded (a start with the index
// removed loads all) and with none (a start from the index), then `writes` adds (fsync on, 20 at a
// time) to random rooms of `active`, against the same on a 10-room store; heap again after.

import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openMemoryStore, type MemoryStore } from '../src/store/memory/index.ts';
import { cmd, OPEN_SETTINGS } from '../test/helpers/store-envelopes.ts';

const { values } = parseArgs({
  options: {
    rooms: { type: 'string', default: '100000' },
    active: { type: 'string', default: '1000' },
    writes: { type: 'string', default: '4000' },
  },
});
const ROOMS = Number(values.rooms);
const ACTIVE = Number(values.active);
const WRITES = Number(values.writes);
const quiet = { info: () => undefined, warn: (o: object, m?: string) => console.error(m, o) };
const gc = (globalThis as { gc?: () => void }).gc;

function heapMiB(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function seed(dir: string, rooms: number): Promise<void> {
  const store = await openMemoryStore({ dataDir: dir, fsync: false, logger: quiet, roomIdleMs: 0 });
  const BATCH = 500;
  for (let from = 0; from < rooms; from += BATCH) {
    const ids = Array.from({ length: Math.min(BATCH, rooms - from) }, (_, i) => `r${from + i}`);
    await Promise.all(
      ids.map((id, i) =>
        store.submit(cmd.createRoom(id, 'host', { ...OPEN_SETTINGS, public: (from + i) % 10 === 0 })),
      ),
    );
    await Promise.all(ids.map((id) => store.submit(cmd.join(id, 'm'))));
    await Promise.all(ids.map((id) => store.submit(cmd.addTrack(id, 'm', `${id}-e0`))));
  }
  await store.close();
}

async function writes(store: MemoryStore, active: number): Promise<{ p50: number; p99: number }> {
  const lat: number[] = [];
  let n = 0;
  const worker = async (): Promise<void> => {
    while (n < WRITES) {
      const i = n++;
      const room = `r${Math.floor(Math.random() * active)}`;
      const t0 = performance.now();
      await store.submit(cmd.addTrack(room, 'm', `w${i}`));
      lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: 20 }, () => worker()));
  lat.sort((a, b) => a - b);
  return { p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
}

async function point(rooms: number, active: number): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'chorus-room-memory-'));
  try {
    const t0 = performance.now();
    await seed(dir, rooms);
    const seedS = (performance.now() - t0) / 1000;
    const base = heapMiB();
    // Every room loaded: a start without the index (as before eviction existed).
    for (const f of await readdir(dir)) if (f.endsWith('.rooms')) await unlink(path.join(dir, f));
    let store = await openMemoryStore({ dataDir: dir, logger: quiet, roomIdleMs: 0 });
    const all = heapMiB() - base;
    const loadedAll = store.stats().rooms;
    const noEviction = await writes(store, active);
    await store.close();
    store = await openMemoryStore({ dataDir: dir, logger: quiet, roomIdleMs: 0 });
    const none = heapMiB() - base;
    const evicted = store.stats().evicted;
    const withEviction = await writes(store, active);
    const afterWrites = heapMiB() - base;
    const loaded = store.stats().rooms;
    await store.close();
    console.log(
      JSON.stringify({
        rooms,
        active,
        seedS: Number(seedS.toFixed(1)),
        heapAllLoadedMiB: Number(all.toFixed(1)),
        bytesPerLoadedRoom: Math.round((all * 2 ** 20) / loadedAll),
        heapFromIndexMiB: Number(none.toFixed(1)),
        evictedAtStart: evicted,
        heapAfterWritesMiB: Number(afterWrites.toFixed(1)),
        loadedAfterWrites: loaded,
        writeAllLoaded: noEviction,
        writeWithEviction: withEviction,
        load: loadavg()[0]!.toFixed(1),
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await point(10, 10);
await point(ROOMS, Math.min(ACTIVE, ROOMS));
