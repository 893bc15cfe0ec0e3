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

/** Redis Cluster's hash slots. */
export const SLOTS = 16384;

/** CRC16/XMODEM, the checksum Redis Cluster maps keys to slots with. */
const CRC16_TABLE = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

/**
 * The Redis Cluster slot of a key: CRC16 of its hash tag (the text inside the first `{…}` when
 * that is not empty), else of the whole key, modulo 16384. The tailer groups rooms by it, since
 * one XREAD may only name keys of one slot.
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++)
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc % SLOTS;
}
