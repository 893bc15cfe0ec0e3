// The embedded store's rooms on disk, with evicted rooms: what a snapshot holds (every loaded room
// as it is now, and every evicted room copied from where it lies), writing it with its room index
// (src/store/disk/snapshot-index.ts), and starting from the newest snapshot plus the log after it.
// The store (./store.ts) decides when.

import type { RoomState } from '../../domain/index.ts';
import { playingEndsAt } from '../../domain/index.ts';
import { compactBefore, loadNewestSnapshot, replayLog, type ReplayedLog } from '../disk/recovery.ts';
import { snapshotWorthWriting, writeSnapshotFile, type RoomBytesAt } from '../disk/snapshot-file.ts';
import { writeSnapshotIndex } from '../disk/snapshot-index.ts';
import type { StoreLogger } from '../logger.ts';
import type { LocalRooms } from '../room-table.ts';
import { isListed, listingOf } from '../../domain/index.ts';

/** Every room at one position: the loaded ones' states and where the evicted ones lie. */
export interface SnapshotContents {
  readonly position: number;
  readonly states: readonly RoomState[];
  readonly copied: readonly RoomBytesAt[];
}

/** Taken synchronously between batches, so it reflects exactly `position`. */
export function snapshotContents(rooms: LocalRooms, position: number): SnapshotContents {
  const states: RoomState[] = [];
  for (const { replica } of rooms.values()) if (replica.state) states.push(replica.state);
  return { position, states, copied: rooms.evictor.evicted() };
}

/**
 * Writes the snapshot and its index, moves every evicted room's place to it, then deletes what it
 * covers (in that order: an evicted room must never point into a deleted file). Returns its size.
 */
export async function persistSnapshot(
  dir: string,
  contents: SnapshotContents,
  rooms: LocalRooms,
  fsync: boolean,
  logger: StoreLogger,
): Promise<number> {
  const { position, states, copied } = contents;
  const written = await writeSnapshotFile(dir, position, [...states, ...copied], fsync);
  const indexed = [
    ...states.map((state, i) => ({
      id: state.id,
      ...written.ranges[i]!,
      listing: isListed(state) ? listingOf(state) : null,
      playing: playingEndsAt(state) !== null,
    })),
    ...copied.map((room, i) => ({
      id: room.id,
      ...written.ranges[states.length + i]!,
      listing: rooms.evictor.listingAt(room),
      playing: false, // a room with a track playing is never evicted
    })),
  ];
  await writeSnapshotIndex(dir, position, written.bytes, indexed, fsync);
  rooms.evictor.landed(written.file, states, copied, written.ranges);
  const removed = await compactBefore(dir, position, fsync);
  logger.info(
    { snapshot: written.file, position, rooms: states.length, evicted: copied.length, removedFiles: removed },
    'snapshot written',
  );
  return written.bytes;
}

/**
 * Puts a loaded snapshot's rooms in the table: all of them from a whole snapshot; from an indexed
 * one, none but those with a track playing (the playback clock must see them), the rest evicted.
 */
export function restoreSnapshot(
  rooms: LocalRooms,
  snap: Awaited<ReturnType<typeof loadNewestSnapshot>>,
): void {
  if (snap === null) return;
  for (const state of snap.snapshot.rooms) rooms.restore(state);
  if (snap.indexed === null) return;
  rooms.evictor.startFrom(snap.snapshot.path, snap.indexed);
  for (const room of snap.indexed) if (room.listing !== null) rooms.listUnloaded(room.listing);
  for (const room of snap.indexed) if (room.playing) rooms.hold(room.id);
}

export interface RecoveredRooms {
  readonly snapshotPosition: number;
  readonly snapshotBytes: number;
  /** The snapshot had no room index (written before indexes): none of its rooms can leave yet. */
  readonly unindexed: boolean;
  readonly log: ReplayedLog;
}

/** Start: the newest snapshot, then the log after it replayed into `rooms`. */
export async function recoverRooms(
  dir: string,
  rooms: LocalRooms,
  options: { fsync: boolean; logger: StoreLogger; readOnly: Error | null },
): Promise<RecoveredRooms> {
  const { logger } = options;
  const snap = await loadNewestSnapshot(dir, logger, { indexed: true });
  const snapshotPosition = snap?.snapshot.position ?? 0;
  restoreSnapshot(rooms, snap);
  const log = await replayLog(dir, snapshotPosition, (env) => rooms.apply(env), {
    ...options,
    headers: true,
  });
  if (log.noSpace !== null) {
    logger.warn(
      { dataDir: dir, err: String(log.noSpace) },
      'the disk takes no writes: the memory store serves reads only; free space and restart the node',
    );
  }
  const info = { snapshotPosition, replayed: log.replayed, position: log.position };
  logger.info(
    { dataDir: dir, ...info, rooms: rooms.roomCount, evicted: rooms.evictor.size },
    'memory store recovered',
  );
  return {
    snapshotPosition,
    snapshotBytes: snap?.bytes ?? 0,
    unindexed: snap !== null && snap.indexed === null && snap.snapshot.rooms.length > 0,
    log,
  };
}

/** When the store takes its next snapshot, and the one being written (at most one at a time). */
export class SnapshotSchedule {
  /** Log position of the newest snapshot on disk (0 when none). */
  position = 0;
  /** Snapshots written and compacted by this process. */
  written = 0;
  /** The snapshot being written in the background, if any. */
  writing: Promise<void> | null = null;
  /**
   * Rooms taken for a snapshot whose writing has not started yet (the log is moving to a new
   * segment). Eviction must wait for it as for `writing`: a room evicted in between would keep its
   * place in the old file, which the new snapshot's compaction then deletes.
   */
  private taken = false;
  /** Size of the newest snapshot file (0 when none). */
  private bytes = 0;
  /** Started from a snapshot without a room index: the next batch takes one (rooms can then go). */
  private unindexed = false;
  /** Position at which the writer takes the next automatic snapshot. */
  private nextAt = 0;
  private readonly opts: {
    dir: string;
    every: number;
    rooms: LocalRooms;
    fsync: boolean;
    logger: StoreLogger;
  };

  constructor(options: SnapshotSchedule['opts']) {
    this.opts = options;
  }

  started(recovered: RecoveredRooms): void {
    ({ snapshotPosition: this.position, snapshotBytes: this.bytes, unindexed: this.unindexed } = recovered);
    this.nextAt = this.unindexed ? 0 : this.position + this.opts.every;
  }

  /** Whether the writer should take one now, at `position` with `logBytes` written since the last. */
  due(position: number, logBytes: number): boolean {
    if (this.writing !== null || position < this.nextAt) return false;
    return this.unindexed || snapshotWorthWriting(this.bytes, logBytes);
  }

  /** A snapshot is being taken or written: rooms must not be evicted meanwhile. */
  get busy(): boolean {
    return this.taken || this.writing !== null;
  }

  /** The rooms at `position` (whatever happens, the next attempt comes `every` records later). */
  take(position: number): SnapshotContents {
    this.nextAt = position + this.opts.every;
    this.taken = true;
    return snapshotContents(this.opts.rooms, position);
  }

  /** The taken rooms will not be written (the log could not move to a new segment). */
  abandon(): void {
    this.taken = false;
  }

  /** Writes `contents` in the background; a failure is logged and retried at the next one. */
  write(contents: SnapshotContents): void {
    const { dir, rooms, fsync, logger } = this.opts;
    this.taken = false;
    this.writing = persistSnapshot(dir, contents, rooms, fsync, logger)
      .then((bytes) => {
        this.bytes = bytes;
        this.position = contents.position;
        this.unindexed = false;
        this.written++;
      })
      .catch((err: unknown) => {
        logger.warn(
          { dataDir: dir, position: contents.position, err: String(err) },
          'could not write a snapshot; will retry later',
        );
      })
      .finally(() => {
        this.writing = null;
      });
  }
}
