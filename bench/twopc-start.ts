// How long a 2PC node takes to start, from its whole history and from a snapshot (issue 17):
//   npx node bench/twopc-start.ts [--transactions 10000,50000] [--rooms 100]
// For each size it writes a one-node 2PC log of that many committed transactions (PREPARED,
// COMMIT and END records, as the node writes them; addTrack commands over the rooms), then opens
// the store on it and times the start (every record replayed), lets it compact (a snapshot at the
// end of the log; compactEvery is the default 10,000), closes it, and times the start again (the
// snapshot and the records after it). Prints one JSON line per size. Not part of `npm run bench`:
// a start is measured alone, with nothing else on the node.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cmd, OPEN_SETTINGS } from '../test/helpers/store-envelopes.ts';
import { encodeCommand } from '../src/store/codec.ts';
import { SILENT_LOGGER } from '../src/store/logger.ts';
import { TwoPcStore } from '../src/store/twopc/store.ts';
import type { LogRecord } from '../src/store/twopc/types.ts';
import { TwoPcWal } from '../src/store/twopc/wal.ts';

const { values } = parseArgs({
  options: {
    transactions: { type: 'string', default: '10000,50000' },
    rooms: { type: 'string', default: '100' },
  },
});
const sizes = values.transactions.split(',').map(Number);
const roomCount = Number(values.rooms);
const NODES = ['n1'];

/** A one-node log of `n` committed transactions (the first per room creates it). */
async function writeHistory(dir: string, n: number): Promise<void> {
  const { wal } = await TwoPcWal.open(dir, SILENT_LOGGER);
  const positions = new Map<string, number>();
  let lsn = wal.lastLsn;
  for (let i = 0; i < n; i++) {
    const room = `start-room-${i % roomCount}`;
    const version = (positions.get(room) ?? 0) + 1;
    positions.set(room, version);
    const env =
      version === 1
        ? cmd.createRoom(room, 'host', OPEN_SETTINGS)
        : cmd.addTrack(room, 'host', `e${i}`, `t${i}`);
    const txn = `n1.bench.${i}#1`;
    const records: LogRecord[] = [
      {
        kind: 'PREPARED',
        txn,
        coordinator: 'n1',
        participants: NODES,
        room,
        version,
        command: new Uint8Array(encodeCommand(env).bytes),
      },
      { kind: 'COMMIT', txn, coordinator: 'n1', participants: NODES },
      { kind: 'END', txn },
    ];
    for (const r of records) wal.append(++lsn, r);
  }
  await wal.sync();
  await wal.close();
}

function open(dir: string): TwoPcStore {
  return new TwoPcStore({
    dataDir: dir,
    nodeId: 'n1',
    peers: [{ id: 'n1', address: '127.0.0.1:1' }],
    secret: 'bench-secret-0123456789',
    logger: SILENT_LOGGER,
  });
}

async function timedStart(dir: string): Promise<{ store: TwoPcStore; ms: number }> {
  const store = open(dir);
  const t0 = performance.now();
  await store.start();
  return { store, ms: Math.round(performance.now() - t0) };
}

for (const n of sizes) {
  const dir = await mkdtemp(path.join(tmpdir(), 'chorus-2pc-start-'));
  try {
    await writeHistory(dir, n);
    const full = await timedStart(dir);
    const compaction = () => full.store.groupStatus().details['compaction'] as Record<string, number>;
    const deadline = Date.now() + 120_000;
    while (compaction()['snapshots']! < 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const snapshotBytes = compaction()['lastSnapshotBytes'];
    await full.store.close();
    const fromSnapshot = await timedStart(dir);
    const after = fromSnapshot.store.groupStatus().details['compaction'] as Record<string, number>;
    await fromSnapshot.store.close();
    console.log(
      JSON.stringify({
        transactions: n,
        records: n * 3,
        rooms: roomCount,
        startFromHistoryMs: full.ms,
        startFromSnapshotMs: fromSnapshot.ms,
        snapshotLsn: after['snapshotLsn'],
        replayedAtStart: after['replayedAtStart'],
        snapshotBytes,
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
