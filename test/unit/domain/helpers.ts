// Test helpers for the room state machine: a small driver that builds envelopes (ids, actor, time),
// applies them, and checks the shape of what comes back, so each test reads as the rule it checks.

import assert from 'node:assert/strict';
import {
  apply,
  type ApplyOutput,
  type Command,
  type CommandValue,
  type Envelope,
  type ErrorCode,
  type ErrorInfo,
  type RoomEvent,
  type RoomState,
  type SettingsPatch,
  type Track,
  restore,
  snapshot,
} from '../../../src/domain/index.ts';

export const ROOM_ID = 'room-1';
export const HOST = 'host';
/** A fixed start time, so every test is deterministic. */
export const T0 = 1_700_000_000_000;
export const MINUTE = 60_000;

export function track(trackId: string, durationMs = 180_000, extra: Partial<Track> = {}): Track {
  return {
    trackId,
    title: `Title ${trackId}`,
    artist: `Artist ${trackId}`,
    album: 'Album',
    durationMs,
    ...extra,
  };
}

/** The value type a command answers with (an anonymous vote answers like a vote). */
type ValueType<T extends Command['type']> = T extends 'anonymousVote' ? 'vote' : T;
type ValueOf<C extends Command> = Extract<CommandValue, { type: ValueType<C['type']> }>;

export interface SendOptions {
  readonly commandId?: string;
  readonly at?: number;
}

/** One room driven through `apply`, with a clock the test moves by hand. */
export class Room {
  state: RoomState | null = null;
  now = T0;
  last!: ApplyOutput;
  private counter = 0;

  /** A room created by HOST with the given settings, and the given members joined. */
  static create(settings: SettingsPatch = {}, members: readonly string[] = []): Room {
    const room = new Room();
    room.ok(HOST, { type: 'createRoom', name: 'Test room', hostName: 'Hosty', settings });
    for (const m of members) room.ok(null, { type: 'join', memberId: m, name: `Name of ${m}` });
    return room;
  }

  get s(): RoomState {
    assert.ok(this.state, 'the room exists');
    return this.state;
  }

  envelope(actor: string | null, command: Command, opts: SendOptions = {}): Envelope {
    return {
      commandId: opts.commandId ?? `cmd-${++this.counter}`,
      roomId: ROOM_ID,
      actor,
      at: opts.at ?? this.now,
      command,
    };
  }

  /** Applies an envelope as is and keeps the resulting state. */
  applyEnvelope(env: Envelope): ApplyOutput {
    this.last = apply(this.state, env);
    this.state = this.last.state;
    return this.last;
  }

  send(actor: string | null, command: Command, opts: SendOptions = {}): ApplyOutput {
    return this.applyEnvelope(this.envelope(actor, command, opts));
  }

  /** Sends a command that must succeed; returns its value. */
  ok<C extends Command>(actor: string | null, command: C, opts: SendOptions = {}): ValueOf<C> {
    const out = this.send(actor, command, opts);
    if (!out.result.ok) {
      assert.fail(
        `${command.type} by ${actor} refused: ${out.result.error.code} ${out.result.error.message}`,
      );
    }
    assert.equal(out.result.value.type, command.type === 'anonymousVote' ? 'vote' : command.type);
    return out.result.value as ValueOf<C>;
  }

  /** Sends a command that must succeed and change the room: the version goes up by one. */
  change<C extends Command>(actor: string | null, command: C, opts: SendOptions = {}): ValueOf<C> {
    const before = this.state?.version ?? 0;
    const value = this.ok(actor, command, opts);
    assert.ok(this.last.events.length > 0, `${command.type} should emit events`);
    assert.equal(this.s.version, before + 1, `${command.type} should bump the version`);
    return value;
  }

  /** Sends a command that must succeed without changing anything (same state, no events). */
  noop<C extends Command>(actor: string | null, command: C, opts: SendOptions = {}): ValueOf<C> {
    const before = this.state;
    const value = this.ok(actor, command, opts);
    assert.equal(this.state, before, `${command.type} should leave the state untouched`);
    assert.deepEqual(this.last.events, []);
    return value;
  }

  /** Sends a command that must be refused with `code`; checks the room is untouched. */
  refused(actor: string | null, command: unknown, code: ErrorCode, opts: SendOptions = {}): ErrorInfo {
    const before = this.state;
    const out = this.send(actor, command as Command, opts);
    if (out.result.ok) assert.fail(`expected ${code}, got ok ${JSON.stringify(out.result.value)}`);
    assert.equal(out.result.error.code, code, out.result.error.message);
    assert.equal(out.state, before, 'a refused command leaves the state untouched');
    assert.deepEqual(out.events, []);
    assert.ok(out.result.error.message.length > 0, 'an error carries a message');
    return out.result.error;
  }

  join(...memberIds: string[]): void {
    for (const m of memberIds) this.change(null, { type: 'join', memberId: m, name: `Name of ${m}` });
  }

  /** Adds track `trackId` as entry `e-<trackId>` (unless told otherwise); returns the entry id. */
  add(actor: string, trackId: string, durationMs = 180_000, entryId = `e-${trackId}`): string {
    this.change(actor, { type: 'addTrack', entryId, track: track(trackId, durationMs) });
    return entryId;
  }

  vote(actor: string, entryId: string, value: 1 | -1 | 0): Extract<CommandValue, { type: 'vote' }> {
    return this.ok(actor, { type: 'vote', entryId, value });
  }

  tick(ms: number): void {
    this.now += ms;
  }

  queueIds(): string[] {
    return this.s.queue.map((e) => e.entryId);
  }

  playingId(): string | null {
    return this.s.nowPlaying?.entry.entryId ?? null;
  }

  eventTypes(): string[] {
    return this.last.events.map((e) => e.type);
  }

  event<T extends RoomEvent['type']>(type: T): Extract<RoomEvent, { type: T }> {
    const found = this.last.events.find((e) => e.type === type);
    assert.ok(found, `expected a ${type} event among ${this.eventTypes().join(', ')}`);
    return found as Extract<RoomEvent, { type: T }>;
  }
}

/** Freezes a value and everything reachable from it, so any mutation throws in strict mode. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

/** A JSON round trip, as a snapshot written to disk and read back. */
export function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** A state as a store hands it back: written as a snapshot to JSON, parsed, and restored. */
export function viaSnapshot(state: RoomState): RoomState {
  return restore(viaJson(snapshot(state)));
}

/**
 * A view as the code before roles wrote it (the test oracle's): the viewer without the `role` that
 * access.ts spells out, so views are compared on everything else.
 */
export function withoutRole<V extends { readonly me: object | null }>(view: V): unknown {
  if (view.me === null) return viaJson(view);
  const { role: _role, ...me } = view.me as { role?: unknown };
  return viaJson({ ...view, me });
}
