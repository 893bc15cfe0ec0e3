// A separate process that uses a memory store, for the tests that need one to die or to compete:
//
//   store-child.ts load <dataDir> <rooms> <workers> <snapshotEvery> [roomIdleMs]
//     Creates the rooms, then submits commands from concurrent workers until killed, printing
//     `ack <roomId> <commandId> <ok 0|1> <version>` for each command the moment it is acknowledged
//     (and `evicted <n>` whenever the store has evicted more idle rooms, given roomIdleMs).
//   store-child.ts hold <dataDir>
//     Opens the store, prints `ready <pid>` and keeps it open until killed.
//
// Lines go out with a synchronous write, so a printed ack is in the pipe before the next command.

import { writeSync } from 'node:fs';
import { openMemoryStore } from '../../src/store/memory/index.ts';
import { cmd, OPEN_SETTINGS } from './store-envelopes.ts';

const [mode, dataDir, ...rest] = process.argv.slice(2);
const quiet = { info: () => undefined, warn: () => undefined };

function say(line: string): void {
  writeSync(1, `${line}\n`);
}

async function load(rooms: number, workers: number, snapshotEvery: number, roomIdleMs = 0): Promise<void> {
  const store = await openMemoryStore({ dataDir: dataDir!, snapshotEvery, roomIdleMs, logger: quiet });
  let evictions = 0;
  setInterval(() => {
    if (store.stats().evictions > evictions) say(`evicted ${(evictions = store.stats().evictions)}`);
  }, 20).unref();
  const ids = Array.from({ length: rooms }, (_, i) => `crash-room-${i}`);
  for (const id of ids) {
    const env = cmd.createRoom(id, 'host', OPEN_SETTINGS);
    const out = await store.submit(env);
    say(`ack ${id} ${env.commandId} ${out.result.ok ? 1 : 0} ${out.state?.version ?? 0}`);
  }
  say('loading');
  const worker = async (w: number): Promise<void> => {
    const room = ids[w % ids.length]!;
    for (let n = 0; ; n++) {
      const member = `w${w}-${n}`;
      const envs = [
        cmd.join(room, member),
        cmd.addTrack(room, member, `${member}-e`),
        cmd.vote(room, 'host', `${member}-e`, n % 2 === 0 ? 1 : -1),
      ];
      for (const env of envs) {
        const out = await store.submit(env);
        say(`ack ${room} ${env.commandId} ${out.result.ok ? 1 : 0} ${out.state?.version ?? 0}`);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
}

async function hold(): Promise<void> {
  await openMemoryStore({ dataDir: dataDir!, logger: quiet });
  say(`ready ${process.pid}`);
  setInterval(() => undefined, 60_000);
}

if (mode === 'load') {
  await load(Number(rest[0]), Number(rest[1]), Number(rest[2]), Number(rest[3] ?? 0));
} else if (mode === 'hold') {
  await hold();
} else {
  throw new Error(`unknown mode ${String(mode)}`);
}
