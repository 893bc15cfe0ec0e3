// The core of a node's operations (see service.ts): what every seam shares. It authenticates a
// bearer token for a write (the one place a member's write rate is counted), decides who may see
// a room, reads rooms, and submits commands (ids, time, actor) to the store, turning the domain's
// refusals into thrown ChorusErrors. The seams build on it: access (service-access.ts), the queue
// (service-queue.ts), rooms (service.ts).

import { createHash, randomUUID } from 'node:crypto';
import {
  ChorusError,
  viewRoom,
  type Command,
  type CommandValue,
  type RoomState,
  type RoomView,
  type Track,
  chorusError,
} from '../domain/index.ts';
import type { Store } from '../store/types.ts';
import { isBannedMember, mayEnter } from '../domain/access.ts';
import { PresenceTracker, type PresenceOptions } from './presence.ts';
import { RateLimiter, type RateLimit } from './rate-limit.ts';
import type { TokenClaims, TokenSigner } from './tokens.ts';

/** What the service needs of the catalog. */
export interface TrackSource {
  get(trackId: string): Track | undefined;
  search(query: string, limit: number): readonly Track[];
  artwork(trackId: string): { readonly mime: string; readonly data: Uint8Array } | undefined;
}

export interface ServiceOptions {
  readonly store: Store;
  readonly catalog: TrackSource;
  readonly tokens: TokenSigner;
  /** How long a read may wait for `minVersion` before DEADLINE_EXCEEDED. */
  readonly readTimeoutMs: number;
  readonly now?: () => number;
  /** Called with each write's store latency, for metrics. */
  readonly onCommit?: (type: Command['type'], seconds: number, ok: boolean) => void;
  /** How fast members write and addresses create rooms and join (default: unlimited). */
  readonly rates?: ServiceRates;
  /** Presence reporting (node id, grace, lease); absent: connections are not reported. */
  readonly presence?: Omit<PresenceOptions, 'submit'>;
}

/** The rate limits the service enforces (README: Limits and defences). */
export interface ServiceRates {
  readonly writesPerMember: RateLimit;
  readonly roomsPerAddress: RateLimit;
  readonly joinsPerAddress: RateLimit;
}

export interface ReadOptions {
  readonly minVersion?: number;
  /** 'linearizable': reflect every write acknowledged before the read, on any node. */
  readonly consistency?: 'local' | 'linearizable';
  readonly viewer?: string | null;
  /** The invite the reader presented (private rooms). */
  readonly invite?: string | null | undefined;
  readonly offset?: number;
  readonly limit?: number;
}

/** A verified caller: the claims of a bearer token. */
export type Caller = TokenClaims;

/** Who asks to see a room: a member (by a valid token) or not, and the invite they sent. */
export interface Visitor {
  readonly memberId: string | null;
  readonly invite: string | null;
}

/** Keys (recovery, client) are kept and logged only as this hash. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

const WRITE_VIEW_QUEUE_LIMIT = 50;

export class ServiceCore {
  protected readonly store: Store;
  protected readonly catalog: TrackSource;
  protected readonly tokens: TokenSigner;
  protected readonly readTimeoutMs: number;
  protected readonly now: () => number;
  private readonly onCommit: ServiceOptions['onCommit'];
  private readonly writes: RateLimiter | null;
  protected readonly creates: RateLimiter | null;
  protected readonly joins: RateLimiter | null;
  private readonly presence: PresenceTracker | null;
  private readonly writeKeys = new WeakMap<Caller, string>();

  constructor(options: ServiceOptions) {
    this.store = options.store;
    this.catalog = options.catalog;
    this.tokens = options.tokens;
    this.readTimeoutMs = options.readTimeoutMs;
    this.now = options.now ?? Date.now;
    this.onCommit = options.onCommit;
    const rates = options.rates;
    this.writes = rates ? new RateLimiter('writes from one member', rates.writesPerMember, this.now) : null;
    this.creates = rates ? new RateLimiter('rooms from one address', rates.roomsPerAddress, this.now) : null;
    this.joins = rates ? new RateLimiter('joins from one address', rates.joinsPerAddress, this.now) : null;
    this.presence = options.presence
      ? new PresenceTracker({
          ...options.presence,
          submit: async (roomId, command) => {
            await this.run(roomId, null, command);
          },
        })
      : null;
  }

  /**
   * A live stream (SSE, Watch) of `viewer` opened in a room: they are present while it is open
   * (and a grace after). Returns what to call when it closes. Streams without a member count nobody.
   */
  connected(roomId: string, viewer: string | null): () => void {
    if (viewer === null || this.presence === null) return () => {};
    return this.presence.connect(roomId, viewer);
  }

  /** Stops presence reporting (a stopping node). */
  stop(): void {
    this.presence?.stop();
  }

  /**
   * Verifies a bearer token and that it belongs to this room, for a write (every member write of
   * either transport comes through here, so this is where a member's write rate is counted).
   */
  async authenticate(token: string | undefined, roomId: string): Promise<Caller> {
    if (!token) throw chorusError('TOKEN_MISSING');
    const claims = this.tokens.verify(token);
    if (!claims) throw chorusError('TOKEN_INVALID');
    if (claims.roomId !== roomId) {
      throw chorusError('TOKEN_OTHER_ROOM', { tokenRoom: claims.roomId, roomId });
    }
    // A ban is for good, so this node's copy of the room, however far behind, never wrongly refuses.
    // (A member removed without a ban is refused by the room itself: NOT_A_MEMBER, in log order.)
    const state = await this.store.read(roomId, undefined, this.readTimeoutMs);
    if (state && isBannedMember(state, claims.memberId)) throw chorusError('MEMBER_BANNED', { roomId });
    this.writes?.take(this.writeKey(claims));
    return claims;
  }

  /**
   * The rate-limit key of a caller, made once per verified claims object (the token cache hands out
   * the same one for the same token): a key built afresh on every write is a new string the limiter's
   * map must flatten and hash each time, which cost more than the rest of the limiter.
   */
  private writeKey(claims: Caller): string {
    let key = this.writeKeys.get(claims);
    if (key === undefined) {
      key = `${claims.roomId}/${claims.memberId}`;
      this.writeKeys.set(claims, key);
    }
    return key;
  }

  /** Who is asking to see a room: the member of a valid token for it, and the invite they sent. */
  visitor(token: string | undefined, roomId: string, invite: string | undefined): Visitor {
    return { memberId: this.viewerOf(token, roomId), invite: invite ?? null };
  }

  /**
   * The room, when `who` may see it; a private room answers a stranger exactly as a room that does
   * not exist (access.ts mayEnter).
   */
  async enter(roomId: string, who: Visitor, minVersion?: number): Promise<RoomState> {
    const state = await this.read(roomId, minVersion);
    return this.admit(state, who);
  }

  protected admit(state: RoomState, who: Visitor): RoomState {
    if (!mayEnter(state, who)) throw chorusError('ROOM_NOT_FOUND', { roomId: state.id });
    return state;
  }

  /** The viewer of a read: a valid token for the room, or nobody (reads need no token). */
  viewerOf(token: string | undefined, roomId: string): string | null {
    if (!token) return null;
    const claims = this.tokens.verify(token);
    return claims && claims.roomId === roomId ? claims.memberId : null;
  }

  /** The raw room state (for the legacy API and the playback clock). */
  async read(roomId: string, minVersion?: number): Promise<RoomState> {
    return this.found(roomId, await this.store.read(roomId, minVersion, this.readTimeoutMs));
  }

  protected found(roomId: string, state: RoomState | null): RoomState {
    if (!state) throw chorusError('ROOM_NOT_FOUND', { roomId });
    return state;
  }

  /**
   * Submits a command as `actor`; the domain's refusal becomes a thrown ChorusError. A client's
   * idempotency key is scoped by the actor: a member who reuses another member's key gets an answer
   * of their own, never the other member's.
   */
  async run(
    roomId: string,
    actor: string | null,
    command: Command,
    idempotencyKey?: string,
    keyScope: string | null = actor,
  ): Promise<{ value: CommandValue; state: RoomState }> {
    const commandId = idempotencyKey === undefined ? randomUUID() : scopedCommandId(idempotencyKey, keyScope);
    const started = performance.now();
    let ok = false;
    try {
      const outcome = await this.store.submit({ commandId, roomId, actor, at: this.now(), command });
      if (!outcome.result.ok) throw ChorusError.from(outcome.result.error);
      ok = true;
      return { value: outcome.result.value, state: outcome.state! };
    } finally {
      this.onCommit?.(command.type, (performance.now() - started) / 1000, ok);
    }
  }

  /** The room as answered after a write: the head of the queue only (GET the room for more). */
  view(state: RoomState, viewer: string | null): RoomView {
    return viewRoom(state, { now: this.now(), viewer, limit: WRITE_VIEW_QUEUE_LIMIT });
  }
}

/** The longest command id the domain takes (validate.ts checkId). */
const MAX_COMMAND_ID = 128;

/**
 * The command id of a client's idempotency key: the key itself for a request of nobody yet (creating
 * a room, joining), the key and the member otherwise; hashed when that would be too long. The same
 * (key, actor) always gives the same id, so a retry is still recognised on any node.
 */
export function scopedCommandId(key: string, actor: string | null): string {
  if (actor === null) return key;
  const scoped = `${key}~${actor}`;
  if (scoped.length <= MAX_COMMAND_ID) return scoped;
  return `k~${createHash('sha256').update(`${actor}\0${key}`).digest('base64url')}`;
}
