// The public room list in Redis, which every node reads and the nodes holding a room keep up to
// date: a sorted set of public room ids by creation time, and a hash of their listings. A node
// holding a room answers with its own, newer, listing of it.

import type { RedisClient } from './connection.ts';
import type { StoreLogger } from '../logger.ts';
import type { RoomReplica } from '../replica.ts';
import { compareListings, isListed, type RoomListing } from '../../domain/index.ts';
import type { ListingKeys } from './keys.ts';
import { messageOf } from './link.ts';
import { LISTING } from './scripts.ts';

/** A room as this node last wrote it to the list. */
export interface ListedRoom {
  readonly replica: RoomReplica;
  /** Version this node last wrote to the room list. */
  listedVersion: number;
}

export class RoomList {
  private readonly cmd: RedisClient;
  private readonly keys: ListingKeys;

  constructor(cmd: RedisClient, keys: ListingKeys) {
    this.cmd = cmd;
    this.keys = keys;
  }

  /** The newest `count` public rooms; `local` gives the replica of a room this node holds. */
  async list(count: number, local: (id: string) => RoomReplica | undefined): Promise<RoomListing[]> {
    const ids = await this.cmd.zrevrange(this.keys.publicRooms, 0, count - 1);
    const raw = ids.length > 0 ? await this.cmd.hmget(this.keys.listing, ...ids) : [];
    const out: RoomListing[] = [];
    ids.forEach((id, i) => {
      const stored = parseListing(raw[i] ?? null);
      // A room this node holds may be newer than what was last written to the list.
      const replica = local(id);
      if (replica?.state && replica.version >= (stored?.version ?? -1)) {
        const listing = replica.listing();
        if (listing && isListed(replica.state)) out.push(listing);
      } else if (stored) {
        out.push(stored);
      }
    });
    // Redis orders ties of the creation time by id descending; the list's rule is the domain's.
    return out.sort(compareListings);
  }

  /** Member counts, queue lengths and now playing change with most commands: copied in the background. */
  refresh(rooms: Iterable<ListedRoom>): void {
    for (const room of rooms) {
      if (!room.replica.state || room.replica.version <= room.listedVersion) continue;
      this.write(room).catch(() => {
        // Retried at the next refresh.
      });
    }
  }

  /** Writes the room's listing now; a failure is logged (the next refresh retries). */
  async announce(room: ListedRoom & { readonly id: string }, logger: StoreLogger): Promise<void> {
    await this.write(room).catch((err: unknown) => {
      logger.warn(
        { roomId: room.id },
        `redis store: could not list room ${room.id} (${messageOf(err)}); will retry`,
      );
    });
  }

  /** Writes the room's listing, unless this node already wrote this version. */
  async write(room: ListedRoom): Promise<void> {
    const state = room.replica.state;
    const listing = room.replica.listing();
    if (!state || !listing || state.version <= room.listedVersion) return;
    await LISTING.run(
      this.cmd,
      [this.keys.publicRooms, this.keys.listing],
      [
        state.id,
        state.version,
        state.createdAt,
        isListed(state) ? '1' : '0',
        JSON.stringify({ ...listing, public: isListed(state) }),
      ],
    );
    room.listedVersion = Math.max(room.listedVersion, state.version);
  }
}

function parseListing(raw: string | null): RoomListing | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    if (
      typeof v['id'] !== 'string' ||
      typeof v['name'] !== 'string' ||
      typeof v['createdAt'] !== 'number' ||
      typeof v['memberCount'] !== 'number' ||
      typeof v['queueLength'] !== 'number' ||
      (v['nowPlaying'] !== null && typeof v['nowPlaying'] !== 'string') ||
      typeof v['version'] !== 'number' ||
      v['public'] === false
    ) {
      return null;
    }
    return {
      id: v['id'],
      name: v['name'],
      createdAt: v['createdAt'],
      memberCount: v['memberCount'],
      queueLength: v['queueLength'],
      nowPlaying: v['nowPlaying'],
      version: v['version'],
    };
  } catch {
    return null;
  }
}
