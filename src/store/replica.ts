// One room as applied on this node: the state, the recent events, and who waits for what. Every
// store feeds its agreed order of commands through `applyCommitted`; this is the only place
// outside the domain that calls `apply`, so every store applies, notifies and answers alike.

import {
  apply,
  type ApplyOutput,
  type Envelope,
  type RoomEvent,
  type RoomState,
  chorusError,
  listingOf,
  refusal,
} from '../domain/index.ts';
import { SILENT_LOGGER, type StoreLogger } from './logger.ts';
import type { CommitOutcome, FeedItem, FeedListener, RoomListing, Subscription } from './types.ts';

/** Events kept per room for subscribers that resume (SSE Last-Event-ID, gRPC Watch from a version). */
export const EVENTS_KEPT = 2000;

interface VersionWaiter {
  readonly minVersion: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * What a command would do as its room's next command, worked out ahead (`decide`) by a store that
 * knows nothing else of that room is in flight. `applyCommitted` installs it instead of applying
 * again when the room is still at `base`; otherwise the command is applied afresh, so a decision
 * made too early is never wrong, only wasted.
 */
export interface Decided {
  readonly base: RoomState | null;
  readonly out: ApplyOutput;
}

/** `env` applied to `state`, or null when apply throws (applyCommitted then answers it alike). */
export function decide(state: RoomState | null, env: Envelope): Decided | null {
  try {
    return { base: state, out: apply(state, env) };
  } catch {
    return null;
  }
}

/** Whether a decided command changes nothing (a refusal, a retry answered from memory). */
export function changesNothing(decided: Decided): boolean {
  return decided.out.state === decided.base;
}

export class RoomReplica {
  readonly roomId: string;
  private current: RoomState | null;
  private readonly events: RoomEvent[] = [];
  private waiters: VersionWaiter[] = [];
  private readonly listeners = new Set<FeedListener>();
  private readonly logger: StoreLogger;
  lastUsed = 0;
  /** Told whenever the state is replaced (the room table keeps its room-list index by it). */
  onStateChange: ((state: RoomState | null) => void) | null = null;

  constructor(roomId: string, initial: RoomState | null = null, logger: StoreLogger = SILENT_LOGGER) {
    this.roomId = roomId;
    this.current = initial;
    this.logger = logger;
  }

  get state(): RoomState | null {
    return this.current;
  }

  get version(): number {
    return this.current?.version ?? 0;
  }

  /** Replaces the state wholesale (a snapshot loaded, or a catch-up that skipped events). */
  reset(state: RoomState | null): void {
    this.current = state;
    this.onStateChange?.(state);
    this.events.length = 0;
    if (state) this.publish({ kind: 'reset', state });
    this.wake();
  }

  /**
   * Applies the next command of the agreed order and tells everyone who waits. A throw from apply
   * (a bug) is a command without effect, answered INTERNAL, on every store and every node alike,
   * live and in replay, so replicas still agree and the store's loop goes on.
   */
  applyCommitted(env: Envelope, decided: Decided | null = null): CommitOutcome {
    let out: ApplyOutput;
    try {
      out = decided !== null && decided.base === this.current ? decided.out : apply(this.current, env);
    } catch (err) {
      this.logger.warn(
        { roomId: this.roomId, commandId: commandIdOf(env), err: String(err) },
        'applying a command failed',
      );
      return {
        result: { ok: false, error: refusal('APPLY_FAILED') },
        state: this.current,
      };
    }
    if (out.state !== this.current) {
      this.current = out.state;
      this.onStateChange?.(out.state);
    }
    if (out.events.length > 0) {
      for (const event of out.events) {
        this.events.push(event);
        this.publish({ kind: 'event', event });
      }
      if (this.events.length > EVENTS_KEPT) this.events.splice(0, this.events.length - EVENTS_KEPT);
      this.wake();
    }
    return { result: out.result, state: out.state };
  }

  /** Resolves once the room's version is at least minVersion, or rejects after timeoutMs. */
  waitForVersion(minVersion: number, timeoutMs: number): Promise<void> {
    if (this.version >= minVersion) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: VersionWaiter = {
        minVersion,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(
            chorusError('VERSION_TIMEOUT', {
              roomId: this.roomId,
              version: this.version,
              minVersion,
              timeoutMs,
            }),
          );
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  subscribe(afterVersion: number, listener: FeedListener): Subscription {
    if (this.current && afterVersion < this.version) {
      // Every change emits at least one event, so the buffer covers a contiguous range of versions.
      const first = this.events[0];
      if (first !== undefined && first.version <= afterVersion + 1) {
        for (const event of this.events) if (event.version > afterVersion) listener({ kind: 'event', event });
      } else {
        listener({ kind: 'reset', state: this.current });
      }
    }
    // A subscriber ahead of this node (it read from a newer node) skips what it has already seen.
    const filtered: FeedListener = (item) => {
      if (item.kind === 'reset' || item.event.version > afterVersion) listener(item);
    };
    this.listeners.add(filtered);
    return { close: () => this.listeners.delete(filtered) };
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  listing(): RoomListing | null {
    return this.current ? listingOf(this.current) : null;
  }

  /** Rejects every waiter (the store is closing). */
  close(reason: Error): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(reason);
    }
    this.waiters = [];
    this.listeners.clear();
  }

  private publish(item: FeedItem): void {
    for (const listener of this.listeners) {
      try {
        listener(item);
      } catch {
        // A failing subscriber (a closed socket) must not stop the others or the apply loop.
        this.listeners.delete(listener);
      }
    }
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const v = this.version;
    const still: VersionWaiter[] = [];
    for (const w of this.waiters) {
      if (v >= w.minVersion) {
        clearTimeout(w.timer);
        w.resolve();
      } else {
        still.push(w);
      }
    }
    this.waiters = still;
  }
}

/**
 * Writes this node proposed and is waiting to see applied, by command id. A store registers a
 * command before handing it to its ordering layer and settles it when the command comes back in
 * the agreed order, so the answer is always the result this node applied.
 */
export class PendingCommands {
  private readonly byId = new Map<string, Array<(outcome: CommitOutcome) => void>>();
  /** Rejecters of the waits of within(), so that failWaiting() (a store closing) can end them. */
  private readonly waiting = new Set<(err: Error) => void>();

  expect(roomId: string, commandId: string): Promise<CommitOutcome> {
    const key = pendingKey(roomId, commandId);
    return new Promise((resolve) => {
      const list = this.byId.get(key);
      if (list) list.push(resolve);
      else this.byId.set(key, [resolve]);
    });
  }

  settle(roomId: string, commandId: string, outcome: CommitOutcome): void {
    const key = pendingKey(roomId, commandId);
    const list = this.byId.get(key);
    if (!list) return;
    this.byId.delete(key);
    for (const resolve of list) resolve(outcome);
  }

  forget(roomId: string, commandId: string): void {
    this.byId.delete(pendingKey(roomId, commandId));
  }

  /**
   * Waits at most `timeoutMs` for `applied` (from expect), then rejects with `timeout()` and
   * forgets the command; failWaiting() ends the wait sooner.
   */
  within(
    applied: Promise<CommitOutcome>,
    roomId: string,
    commandId: string,
    timeoutMs: number,
    timeout: () => Error,
  ): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.waiting.delete(fail);
      };
      const fail = (err: Error): void => {
        settle();
        this.forget(roomId, commandId);
        reject(err);
      };
      const timer = setTimeout(() => fail(timeout()), timeoutMs);
      this.waiting.add(fail);
      void applied.then((outcome) => {
        settle();
        resolve(outcome);
      });
    });
  }

  /** Ends every wait of within() with `reason` (the store is closing). */
  failWaiting(reason: Error): void {
    for (const fail of [...this.waiting]) fail(reason);
  }

  /** True while someone waits for this command to be applied. */
  isWaiting(roomId: string, commandId: string): boolean {
    return this.byId.has(pendingKey(roomId, commandId));
  }

  get size(): number {
    return this.byId.size;
  }
}

/** The envelope's command id for a log line, whatever the envelope is (it just made apply throw). */
function commandIdOf(env: Envelope): unknown {
  try {
    return (env as Partial<Envelope> | null)?.commandId;
  } catch {
    return undefined;
  }
}

/** Command ids are chosen by clients and only unique within a room. */
function pendingKey(roomId: string, commandId: string): string {
  return `${roomId}/${commandId}`;
}
