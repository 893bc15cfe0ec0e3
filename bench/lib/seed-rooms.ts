// Seeds a data dir with R rooms through the embedded store's API, in its own process, before a
// `chorus serve` is started on that dir (bench/node-scale.ts `--parts rooms`): creating 100,000 rooms
// through REST took most of the run's 10-minute bound (~300 a second on the shared machine), and the
// node serves these rooms from its own data dir all the same. Room `r<i>` is created by member
// `host` with the bench's settings, every tenth public, as the REST path did; the caller signs the
// host tokens with the node's secret (src/node/tokens.ts), which it writes into the data dir.
//
//   npx node bench/lib/seed-rooms.ts DIR ROOMS        (prints "seeded R in S s" when done)

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Envelope, SettingsPatch } from '../../src/domain/index.ts';
import { openMemoryStore } from '../../src/store/memory/index.ts';

export const SEED_HOST = 'host';
export const SEED_SETTINGS: SettingsPatch = {
  autoplay: false,
  maxQueueLength: 1_000_000,
  maxEntriesPerMember: 0,
  voteOffThreshold: 0,
};

const BATCH = 500;

export async function seedRooms(dir: string, rooms: number): Promise<void> {
  const quiet = { info: () => undefined, warn: (o: object, m?: string) => console.error(m, o) };
  // fsync off while seeding: close() writes the snapshot (and its room index) the node starts from.
  const store = await openMemoryStore({ dataDir: dir, fsync: false, logger: quiet, roomIdleMs: 0 });
  const at = Date.now();
  for (let from = 0; from < rooms; from += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, rooms - from) }, (_, j) => from + j);
    await Promise.all(
      batch.map((i) => {
        const roomId = `r${i}`;
        const envelope: Envelope = {
          commandId: randomUUID(),
          roomId,
          actor: SEED_HOST,
          at: at + i,
          command: {
            type: 'createRoom',
            name: roomId,
            hostName: 'Host',
            settings: { ...SEED_SETTINGS, public: i % 10 === 0 },
          },
        };
        return store.submit(envelope).then(({ result }) => {
          if (!result.ok) throw new Error(`seeding ${roomId}: ${JSON.stringify(result.error)}`);
        });
      }),
    );
  }
  await store.close();
}

if (import.meta.filename === process.argv[1]) {
  const [dir, rooms] = process.argv.slice(2);
  if (dir === undefined || !(Number(rooms) >= 1)) throw new Error('usage: seed-rooms.ts DIR ROOMS');
  const t0 = performance.now();
  await seedRooms(dir, Number(rooms));
  console.log(`seeded ${rooms} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
