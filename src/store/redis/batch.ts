// Script calls made during one turn of the event loop go to Redis as one pipeline. Under load many
// requests are parsed in the same turn, and each would otherwise cost its own socket write and
// wake Redis once; batched, they cost one write, and Redis answers them all in one reply. The
// order of the calls is kept, so two appends to one room are ordered as they were made.

import type { Redis } from 'ioredis';
import type { LuaScript } from './scripts.ts';

interface Call {
  readonly keys: readonly string[];
  readonly args: ReadonlyArray<string | number>;
  readonly resolve: (reply: unknown) => void;
  readonly reject: (err: unknown) => void;
}

export class ScriptBatcher {
  private readonly client: Redis;
  private readonly script: LuaScript;
  private calls: Call[] = [];

  constructor(client: Redis, script: LuaScript) {
    this.client = client;
    this.script = script;
  }

  run(keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.calls.length === 0) setImmediate(() => void this.flush());
      this.calls.push({ keys, args, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const calls = this.calls;
    this.calls = [];
    if (calls.length === 1) {
      const [call] = calls as [Call];
      await this.script.run(this.client, call.keys, call.args).then(call.resolve, call.reject);
      return;
    }
    const pipeline = this.client.pipeline();
    for (const { keys, args } of calls) pipeline.evalsha(this.script.sha, keys.length, ...keys, ...args);
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await pipeline.exec();
    } catch (err) {
      for (const call of calls) call.reject(err);
      return;
    }
    calls.forEach((call, i) => {
      const [err, reply] = replies?.[i] ?? [new Error('Redis gave no reply for a pipelined command'), null];
      if (err === null) call.resolve(reply);
      // The server's script cache was empty (a restart): this one again, with the script's source.
      else if (err.message.startsWith('NOSCRIPT'))
        this.script.run(this.client, call.keys, call.args).then(call.resolve, call.reject);
      else call.reject(err);
    });
  }
}
