// The Lua scripts the store runs. Each touches only keys of one hash tag (one room, or the room
// list), so each is atomic on a single Redis and legal on Redis Cluster.

import { createHash } from 'node:crypto';
import type { RedisClient } from './connection.ts';

export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** EVALSHA, falling back to EVAL once when the server's script cache is empty (e.g. after a restart). */
  async run(
    client: RedisClient,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
  ): Promise<unknown> {
    try {
      return await client.call('EVALSHA', this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return await client.call('EVAL', this.source, keys.length, ...keys, ...args);
    }
  }
}

/**
 * Appends commands to one room's log, in order. A command that is not a createRoom is refused
 * (not written, `false` in its place) while the room does not exist: a command for an unknown
 * room must create no key. Returns `{ids, entries}`: each command's new entry id (`0-<n>`) or false,
 * and, when the caller is at most `catchUp` entries behind the last one, every entry after the
 * caller's position up to the last new one (else false). So the caller applies its own commands
 * in order at once, without waiting for its next XREAD, and gets each entry once however many
 * commands it sent together.
 * KEYS: log, snap. ARGV: the caller's position in this log, catchUp, then for each command its
 * envelope JSON and '1' when it is a createRoom.
 */
export const APPEND = new LuaScript(`
local exists = redis.call('EXISTS', KEYS[1], KEYS[2]) > 0
local ids = {}
local last = nil
for i = 3, #ARGV, 2 do
  if exists or ARGV[i + 1] == '1' then
    last = redis.call('XADD', KEYS[1], '0-*', 'e', ARGV[i])
    ids[#ids + 1] = last
    exists = true
  else
    ids[#ids + 1] = false
  end
end
local after = tonumber(ARGV[1])
if last == nil or tonumber(string.sub(last, 3)) - after > tonumber(ARGV[2]) then
  return {ids, false}
end
return {ids, redis.call('XRANGE', KEYS[1], '(0-' .. after, '+')}
`);

/**
 * Stores a snapshot unless a newer one is already there (two nodes may race; the newest wins), then
 * trims the log behind the stored snapshot, keeping `retain` entries for nodes that lag a little.
 * Returns the position the stored snapshot covers.
 * KEYS: snap, log. ARGV: position covered, snapshot JSON, entries to retain behind it.
 */
export const SNAPSHOT = new LuaScript(`
local stored = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local seq = tonumber(ARGV[1])
if seq > stored then
  redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'data', ARGV[2])
  stored = seq
end
local keepFrom = stored - tonumber(ARGV[3]) + 1
if keepFrom > 1 then
  redis.call('XTRIM', KEYS[2], 'MINID', string.format('0-%d', keepFrom))
end
return stored
`);

/**
 * Records a room's listing unless a newer version of it is already recorded (a lagging node must
 * not put back an old name or visibility), and keeps the sorted set of public rooms in step.
 * KEYS: public rooms zset, listing hash. ARGV: room id, version, createdAt, '1' if public, listing JSON.
 */
export const LISTING = new LuaScript(`
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded.version) and tonumber(decoded.version) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
`);
