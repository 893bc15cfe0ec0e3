// The appends made during one turn of the event loop go to Redis together: one APPEND script call
// per room, carrying that room's commands in the order they were made, and the calls for all rooms
// in one pipeline. Under load many requests are parsed in the same turn; one call each would cost a
// script run each, and every reply would repeat the entries the replies before it already brought.
// On a Redis Cluster a pipeline may only hold keys of one node's slots, so there each room's call
// goes on its own (the cluster client still writes them to each node's socket back to back).
// Every call has a deadline of its own: a connection's command timeout starts when the command is
// written to a socket, and a cluster client can hold one in its offline queue for good (ioredis
// 6.0.0 re-queues a command redirected by MOVED while the cluster closes), so past `timeoutMs` the
// call's commands fail as interrupted: they may still run, and a retry with the same id is applied once.

import { Cluster } from 'ioredis';
import type { RedisClient } from './connection.ts';
import { APPEND } from './scripts.ts';
import { parseAppend, type LogEntry } from './stream.ts';

export interface AppendResult {
  /** The command's position in the log, or null when it was refused (no such room). */
  readonly seq: number | null;
  /** Entries after the caller's position up to the room's last appended command (see APPEND). */
  readonly entries: readonly LogEntry[] | null;
}

interface Command {
  readonly json: string;
  readonly creates: boolean;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (err: unknown) => void;
}

interface RoomCalls {
  /** The room's log and snapshot keys. */
  readonly keys: readonly [string, string];
  /** The caller's position in the room's log, read when the call is sent. */
  readonly position: () => number;
  readonly commands: Command[];
}

export class AppendBatcher {
  private readonly client: RedisClient;
  private readonly catchUp: number;
  private readonly timeoutMs: number;
  private rooms = new Map<string, RoomCalls>();

  constructor(client: RedisClient, catchUp: number, timeoutMs: number) {
    this.client = client;
    this.catchUp = catchUp;
    this.timeoutMs = timeoutMs;
  }

  append(
    keys: readonly [string, string],
    position: () => number,
    json: string,
    creates: boolean,
  ): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      if (this.rooms.size === 0) setImmediate(() => void this.flush());
      let room = this.rooms.get(keys[0]);
      if (!room) {
        room = { keys, position, commands: [] };
        this.rooms.set(keys[0], room);
      }
      room.commands.push({ json, creates, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const calls = [...this.rooms.values()].map((room) => ({ room, args: this.argsOf(room) }));
    this.rooms = new Map();
    // A command settled already (the usual case) ignores the rejection.
    const deadline = setTimeout(() => {
      const late = new Error(`no reply from Redis within ${this.timeoutMs} ms`);
      for (const { room } of calls) for (const c of room.commands) c.reject(late);
    }, this.timeoutMs);
    try {
      await this.send(calls);
    } finally {
      clearTimeout(deadline);
    }
  }

  private async send(calls: ReadonlyArray<{ room: RoomCalls; args: Array<string | number> }>): Promise<void> {
    if (calls.length === 1 || this.client instanceof Cluster) {
      await Promise.all(calls.map(({ room, args }) => this.runAlone(room, args)));
      return;
    }
    const pipeline = this.client.pipeline();
    for (const { room, args } of calls) pipeline.evalsha(APPEND.sha, 2, ...room.keys, ...args);
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await pipeline.exec();
    } catch (err) {
      for (const { room } of calls) for (const c of room.commands) c.reject(err);
      return;
    }
    const again: Array<Promise<void>> = [];
    calls.forEach(({ room, args }, i) => {
      const [err, reply] = replies?.[i] ?? [new Error('Redis gave no reply for a pipelined command'), null];
      if (err === null) settle(room, reply);
      // The server's script cache was empty (a restart): this one again, with the script's source.
      else if (err.message.startsWith('NOSCRIPT')) again.push(this.runAlone(room, args));
      else for (const c of room.commands) c.reject(err);
    });
    await Promise.all(again);
  }

  private argsOf(room: RoomCalls): Array<string | number> {
    const args: Array<string | number> = [room.position(), this.catchUp];
    for (const c of room.commands) args.push(c.json, c.creates ? '1' : '0');
    return args;
  }

  private async runAlone(room: RoomCalls, args: ReadonlyArray<string | number>): Promise<void> {
    let reply: unknown;
    try {
      reply = await APPEND.run(this.client, room.keys, args);
    } catch (err) {
      for (const c of room.commands) c.reject(err);
      return;
    }
    settle(room, reply);
  }
}

function settle(room: RoomCalls, reply: unknown): void {
  let parsed: ReturnType<typeof parseAppend>;
  try {
    parsed = parseAppend(reply, room.commands.length);
  } catch (err) {
    for (const c of room.commands) c.reject(err);
    return;
  }
  room.commands.forEach((c, i) => c.resolve({ seq: parsed.seqs[i] ?? null, entries: parsed.entries }));
}
