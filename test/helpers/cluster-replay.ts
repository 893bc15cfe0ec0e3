// A room's Redis stream replayed through the domain's `apply` (replayFromRedis), and the logs kept
// for a failed run (archiveLogs): what the checks compare the acknowledged writes with.

import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { apply, restore, type Envelope, type RoomState } from '../../src/domain/index.ts';
import { roomKeys } from '../../src/store/redis/keys.ts';

/** The key prefix `chorus serve` uses by default (src/node/config.ts). */
export const DEFAULT_PREFIX = 'chorus:';

// ---- Replaying a room's stream --------------------------------------------------------------------

/**
 * The Idempotency-Key a client sent, from the command id the node made of it: a member's key is
 * scoped as `KEY~MEMBER` (service.ts scopedCommandId; the load's keys are short UUIDs, never hashed).
 */
export function clientKey(commandId: string): string {
  const tilde = commandId.indexOf('~');
  return tilde > 0 ? commandId.slice(0, tilde) : commandId;
}

export interface ReplayedRoom {
  readonly roomId: string;
  readonly state: RoomState;
  /** Positions of the log entries replayed (1 when the log is untrimmed). */
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** The snapshot Redis holds (its position), or null. */
  readonly snapshotSeq: number | null;
  /** True when the log reached back far enough to check that the snapshot equals the replay at its position. */
  readonly snapshotChecked: boolean;
  /** Every command id in the log, and those the room records as recently applied (beyond a trimmed log). */
  readonly commandIds: ReadonlySet<string>;
  /** entryId -> the command id of the removeEntry that removed it (from the replay and the room's record). */
  readonly removedBy: ReadonlyMap<string, string>;
}

/**
 * Reads the room's stream (`<prefix>{room:<id>}:log`) and its snapshot with a plain client and
 * replays it through the domain's `apply`: from the start when the log is untrimmed (and then the
 * snapshot must equal the replay at its position), else from the snapshot.
 */
export async function replayFromRedis(
  redisUrl: string,
  roomId: string,
  options: { prefix?: string; archive?: LogArchive } = {},
): Promise<ReplayedRoom> {
  const client = new Redis(redisUrl, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const keys = roomKeys(options.prefix ?? DEFAULT_PREFIX, roomId);
    const raw = new Map<number, string>(options.archive?.entries(roomId) ?? []);
    for (const entry of await readLog(client, keys.log)) {
      const archived = raw.get(entry.seq);
      // Entries never change once written: what was archived is what Redis still holds.
      if (archived !== undefined)
        assert.equal(entry.json, archived, `log entry 0-${entry.seq} of ${roomId} changed`);
      raw.set(entry.seq, entry.json);
    }
    const entries = [...raw.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([seq, json]) => ({ seq, env: JSON.parse(json) as Envelope }));
    assert.ok(entries.length > 0, `room ${roomId} has a log in Redis`);
    entries.forEach((e, i) => {
      if (i > 0) assert.equal(e.seq, entries[i - 1]!.seq + 1, `log of ${roomId} has no gap at ${e.seq}`);
    });
    const [snapSeqText, snapData] = await client.hmget(keys.snap, 'seq', 'data');
    const snapshotSeq = snapSeqText ? Number(snapSeqText) : null;
    const snapshotState = snapData ? restore(JSON.parse(snapData)) : null;

    const firstSeq = entries[0]!.seq;
    let state: RoomState | null = null;
    let snapshotChecked = false;
    if (firstSeq > 1) {
      assert.ok(
        snapshotSeq !== null && snapshotSeq >= firstSeq - 1,
        `log of ${roomId} starts at ${firstSeq}, so a snapshot must cover ${firstSeq - 1} (it covers ${snapshotSeq})`,
      );
      state = snapshotState;
    }
    const commandIds = new Set<string>();
    const removedBy = new Map<string, string>();
    for (const { seq, env } of entries) {
      commandIds.add(clientKey(env.commandId));
      if (firstSeq > 1 && seq <= snapshotSeq!) continue;
      const out = apply(state, env);
      state = out.state;
      for (const event of out.events)
        if (event.type === 'entryRemoved') removedBy.set(event.entryId, clientKey(env.commandId));
      if (seq === snapshotSeq && firstSeq === 1) {
        assert.deepEqual(
          snapshotState,
          state,
          `the snapshot of ${roomId} at ${seq} equals the replay up to it`,
        );
        snapshotChecked = true;
      }
    }
    assert.ok(state, `the log of ${roomId} creates the room`);
    // What the trimmed part of the log did is still known from the room's own record of its recent
    // successful commands (kept for idempotent retries), which the snapshot carried over.
    for (const r of state.recent) {
      commandIds.add(clientKey(r.commandId));
      if (r.result.type === 'removeEntry' && !removedBy.has(r.result.entryId)) {
        removedBy.set(r.result.entryId, clientKey(r.commandId));
      }
    }
    return {
      roomId,
      state,
      firstSeq,
      lastSeq: entries.at(-1)!.seq,
      snapshotSeq,
      snapshotChecked,
      commandIds,
      removedBy,
    };
  } finally {
    client.disconnect();
  }
}

/** A room's log entries as Redis holds them now: position and the envelope's JSON. */
async function readLog(client: Redis, key: string, after = 0): Promise<Array<{ seq: number; json: string }>> {
  const out: Array<{ seq: number; json: string }> = [];
  let from = after > 0 ? `(0-${after}` : '-';
  for (;;) {
    const page = (await client.xrange(key, from, '+', 'COUNT', 1000)) as Array<[string, string[]]>;
    for (const [id, fields] of page) {
      const m = /^0-(\d+)$/.exec(id);
      assert.ok(m, `log entry id ${id} is of the form 0-<n>`);
      assert.equal(fields.length, 2, `log entry ${id} holds one field`);
      assert.equal(fields[0], 'e', `log entry ${id} holds its envelope in field e`);
      out.push({ seq: Number(m[1]), json: fields[1]! });
    }
    if (page.length < 1000) return out;
    from = `(${page.at(-1)![0]}`;
  }
}

export interface LogArchive {
  /** Every entry of the room's log seen so far (position -> envelope JSON). */
  entries(roomId: string): ReadonlyMap<number, string>;
  /** Stops copying (idempotent); fails if an entry was trimmed away before it could be copied. */
  stop(): Promise<void>;
}

/**
 * Copies the rooms' logs out of Redis as they grow (every `everyMs`), so that the whole history can be
 * replayed even though the store trims each log behind its snapshots. Keeps trying while Redis is away.
 */
export function archiveLogs(
  redisUrl: string,
  roomIds: readonly string[],
  options: { prefix?: string; everyMs?: number } = {},
): LogArchive {
  const client = new Redis(redisUrl, {
    protocol: 2,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => 100,
  });
  client.on('error', () => undefined);
  const copied = new Map<string, Map<number, string>>(roomIds.map((id) => [id, new Map()]));
  const last = new Map<string, number>(roomIds.map((id) => [id, 0]));
  const gaps: string[] = [];
  let running = true;
  const pass = async (): Promise<void> => {
    for (const id of roomIds) {
      try {
        for (const entry of await readLog(
          client,
          roomKeys(options.prefix ?? DEFAULT_PREFIX, id).log,
          last.get(id),
        )) {
          if (entry.seq !== last.get(id)! + 1)
            gaps.push(`${id}: after 0-${last.get(id)} came 0-${entry.seq}`);
          copied.get(id)!.set(entry.seq, entry.json);
          last.set(id, entry.seq);
        }
      } catch {
        // Redis away: the next pass tries again.
      }
    }
  };
  const loop = (async () => {
    while (running) {
      await pass();
      await new Promise((r) => setTimeout(r, options.everyMs ?? 100));
    }
  })();
  let stopped: Promise<void> | null = null;
  return {
    entries: (roomId) => copied.get(roomId) ?? new Map(),
    stop: () =>
      (stopped ??= (async () => {
        running = false;
        await loop;
        await pass();
        client.disconnect();
        assert.deepEqual(gaps, [], 'the log archiver copied every entry before it was trimmed');
      })()),
  };
}
