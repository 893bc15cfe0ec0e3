// The key layout. Every key of one room carries the hash tag `{room:<id>}`, so a room lives in one
// Redis Cluster slot and its Lua scripts (which touch several of its keys) are legal there; the
// room list has its own tag. The prefix isolates deployments that share one Redis.
//
//   <prefix>{room:<id>}:log      stream: the room's commands in their agreed order. Entry ids are
//                                `0-<n>`: n is the room's n-th command, so a gap is visible at once.
//                                One field `e` holds the command envelope as JSON.
//   <prefix>{room:<id>}:snap     hash: `seq` (the last entry the snapshot covers) and `data` (JSON).
//   <prefix>{rooms}:public       sorted set: ids of public rooms, scored by createdAt.
//   <prefix>{rooms}:listing      hash: room id -> listing JSON (with `public` and `version`).

export interface RoomKeys {
  readonly log: string;
  readonly snap: string;
}

export interface ListingKeys {
  readonly publicRooms: string;
  readonly listing: string;
}

/** The caller has checked the room id against ROOM_ID_PATTERN, so it cannot contain a brace. */
export function roomKeys(prefix: string, roomId: string): RoomKeys {
  const base = `${prefix}{room:${roomId}}`;
  return { log: `${base}:log`, snap: `${base}:snap` };
}

export function listingKeys(prefix: string): ListingKeys {
  return { publicRooms: `${prefix}{rooms}:public`, listing: `${prefix}{rooms}:listing` };
}
