// Bench rooms: created through the REST API with settings that let a load run (no autoplay, a queue
// that does not fill, no per-member cap), with member tokens to spread writes over.

import { RestClient } from '../../src/cli/rest-client.ts';
import { ChorusError } from '../../src/domain/index.ts';
import type { BenchRoom, Workload } from './workload.ts';

export const ROOM_SETTINGS = {
  autoplay: false,
  maxQueueLength: 1_000_000,
  maxEntriesPerMember: 0,
  voteOffThreshold: 0,
  skipVotes: 0,
  // Listed: a private room opens only with its invite, and the load reads rooms without one.
  public: true,
};

let roomCounter = 0;

/** A fresh room with `members` joined members and `seedEntries` tracks added by the host. */
export async function makeRoom(
  url: string,
  members: number,
  seedEntries: number,
  workload: Workload,
): Promise<BenchRoom> {
  const client = new RestClient({ server: url, timeoutMs: 30_000 });
  const id = `bench-${process.pid}-${roomCounter++}`;
  const host = await client.createRoom({
    roomId: id,
    name: id,
    hostName: 'bench host',
    settings: ROOM_SETTINGS,
  });
  // Ten joins at a time: a hundred at once on one room is itself a lock race on a 2PC group.
  const tokens: string[] = [];
  for (let i = 0; i < members; i += 10) {
    const batch = Array.from({ length: Math.min(10, members - i) }, async (_, j) => {
      return (await client.join(id, `client ${i + j + 1}`)).token;
    });
    tokens.push(...(await Promise.all(batch)));
  }
  const seeded: string[] = [];
  const asHost = client.withToken(host.token);
  for (let i = 0; i < seedEntries; i++) {
    const added = await asHost.add(id, { track: workload.newTrack() });
    if (added.entry) seeded.push(added.entry.entryId);
  }
  return { id, hostToken: host.token, tokens, seeded };
}

/**
 * makeRoom, tried again (a new room each time) when the store turns a setup write away as
 * retryable: a 2PC group on a busy machine can miss a vote deadline. Setup is not measured.
 */
async function makeRoomRetrying(
  url: string,
  members: number,
  seedEntries: number,
  workload: Workload,
): Promise<BenchRoom> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await makeRoom(url, members, seedEntries, workload);
    } catch (err) {
      const retryable =
        err instanceof ChorusError && ['UNAVAILABLE', 'ABORTED', 'DEADLINE_EXCEEDED'].includes(err.code);
      if (!retryable || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** `count` rooms of `members` members each, created a few at a time (each creation is a write). */
export async function makeRooms(
  urls: readonly string[],
  count: number,
  members: number,
  workload: Workload,
): Promise<BenchRoom[]> {
  const rooms: BenchRoom[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = Array.from({ length: Math.min(10, count - i) }, (_, j) =>
      makeRoomRetrying(urls[(i + j) % urls.length]!, members, 0, workload),
    );
    rooms.push(...(await Promise.all(batch)));
  }
  return rooms;
}
