// The operations of a Chorus node, shared by every transport (REST, gRPC, legacy). A transport
// authenticates, parses and maps errors; this builds commands (ids, time, actor), hands them to
// the store and turns the domain's answers into views. Errors are thrown as ChorusError.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  ChorusError,
  historyPage,
  findEntry,
  indexOfEntry,
  historyItem,
  viewRoom,
  type Command,
  type CommandValue,
  type HistoryPage,
  type HistoryItem,
  type QueueItemView,
  type RoomEvent,
  type RoomState,
  type RoomView,
  type SettingsPatch,
  type Track,
  type VoteValue,
  chorusError,
} from '../domain/index.ts';
import type { FeedListener, GroupStatus, RoomListing, Store, Subscription } from '../store/types.ts';
import { hasHostPowers, isBannedMember, isMember, mayEnter, roleOf } from '../domain/access.ts';
import { newId, roomSlug } from './ids.ts';
import { hashPasscode } from './passcode.ts';
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

/** A member as the host's members list shows them. */
export interface MemberListing {
  readonly memberId: string;
  readonly name: string;
  readonly role: 'host' | 'cohost' | 'member';
  readonly joinedAt: number;
}

/** A banned member as the host's members list shows them. */
export interface BanListing {
  readonly memberId: string;
  readonly name: string;
  readonly at: number;
}

/** 192 bits: a recovery key is for good, so it gets more than an invite. */
const RECOVERY_KEY_BYTES = 24;
/** 128 bits (issue 20 asks for at least 96). */
const INVITE_BYTES = 16;

/** Keys (recovery, client) are kept and logged only as this hash. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Whether a feed event removes `memberId` from the room. */
function removes(event: RoomEvent, memberId: string): boolean {
  return event.type === 'memberRemoved' && event.memberId === memberId;
}

/** What an advance answers: whether it moved the room, the play that ended, the room afterwards. */
export interface AdvanceAnswer {
  readonly advanced: boolean;
  readonly ended: HistoryItem | null;
  readonly room: RoomView;
}

export type AddTrackInput = { readonly trackId: string } | { readonly track: Track };

const WRITE_VIEW_QUEUE_LIMIT = 50;

export class RoomService {
  private readonly store: Store;
  private readonly catalog: TrackSource;
  private readonly tokens: TokenSigner;
  private readonly readTimeoutMs: number;
  private readonly now: () => number;
  private readonly onCommit: ServiceOptions['onCommit'];
  private readonly writes: RateLimiter | null;
  private readonly creates: RateLimiter | null;
  private readonly joins: RateLimiter | null;
  private readonly presence: PresenceTracker | null;

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
    this.writes?.take(`${claims.roomId}/${claims.memberId}`);
    return claims;
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

  private admit(state: RoomState, who: Visitor): RoomState {
    if (!mayEnter(state, who)) throw chorusError('ROOM_NOT_FOUND', { roomId: state.id });
    return state;
  }

  /** The viewer of a read: a valid token for the room, or nobody (reads need no token). */
  viewerOf(token: string | undefined, roomId: string): string | null {
    if (!token) return null;
    const claims = this.tokens.verify(token);
    return claims && claims.roomId === roomId ? claims.memberId : null;
  }

  async createRoom(input: {
    roomId?: string | undefined;
    name: string;
    hostName: string;
    settings?: SettingsPatch | undefined;
    commandId?: string | undefined;
    /** The client's address, for the per-address rate. */
    client?: string | undefined;
    /** A passcode for joining (stored hashed). */
    passcode?: string | undefined;
  }): Promise<{ room: RoomView; memberId: string; token: string; recoveryKey: string; invite?: string }> {
    this.creates?.take(input.client ?? '');
    const roomId = input.roomId ?? roomSlug(input.name);
    const hostId = newId('m');
    const passcodeHash =
      input.passcode === undefined ? undefined : await hashPasscode(roomId, input.passcode);
    // A retry (same key) must answer the key the room keeps: derived from the key, not drawn afresh.
    const secretFor = (what: string, bytes: number): string =>
      input.commandId === undefined
        ? randomBytes(bytes).toString('base64url')
        : this.tokens.derive(`${what}\0${roomId}\0${input.commandId}`, bytes);
    const recoveryKey = secretFor('recovery', RECOVERY_KEY_BYTES);
    const invite = input.settings?.public === false ? secretFor('invite', INVITE_BYTES) : undefined;
    const command: Command = {
      type: 'createRoom',
      name: input.name,
      hostName: input.hostName,
      ...(input.settings ? { settings: input.settings } : {}),
      recoveryKeyHash: hashKey(recoveryKey),
      ...(invite !== undefined ? { invite } : {}),
      ...(passcodeHash !== undefined ? { passcodeHash } : {}),
    };
    // The host id is new on every try, so the key is not scoped by it: a retry finds the first room.
    const { value, state } = await this.run(roomId, hostId, command, input.commandId, null);
    const host = (value as Extract<CommandValue, { type: 'createRoom' }>).hostId;
    return {
      room: this.view(state, host),
      memberId: host,
      token: this.tokens.sign({ roomId, memberId: host }),
      recoveryKey,
      ...(state.invite !== undefined ? { invite: state.invite } : {}),
    };
  }

  async join(
    roomId: string,
    name: string,
    commandId?: string,
    client?: string,
    access: {
      invite?: string | undefined;
      clientKey?: string | undefined;
      passcode?: string | undefined;
    } = {},
  ): Promise<{ room: RoomView; memberId: string; token: string; pending: boolean }> {
    this.joins?.take(client ?? '');
    const passcodeHash =
      access.passcode === undefined ? undefined : await hashPasscode(roomId, access.passcode);
    const { value, state } = await this.run(
      roomId,
      null,
      {
        type: 'join',
        memberId: newId('m'),
        name,
        ...(access.invite !== undefined ? { invite: access.invite } : {}),
        ...(access.clientKey !== undefined ? { clientKeyHash: hashKey(access.clientKey) } : {}),
        ...(passcodeHash !== undefined ? { passcodeHash } : {}),
      },
      commandId,
    );
    const joined = value as Extract<CommandValue, { type: 'join' }>;
    const memberId = joined.memberId;
    // A pending joiner gets their token now: with it they watch the room and learn the host's answer.
    return {
      room: this.view(state, memberId),
      memberId,
      token: this.tokens.sign({ roomId, memberId }),
      pending: joined.pending === true,
    };
  }

  /** Host: admit (or turn away) a join request waiting for approval. */
  async decideJoin(
    caller: Caller,
    memberId: string,
    approve: boolean,
    commandId?: string,
  ): Promise<RoomView> {
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'decideJoin', memberId, approve },
      commandId,
    );
    return this.view(state, caller.memberId);
  }

  async addTrack(
    caller: Caller,
    input: AddTrackInput,
    commandId?: string,
  ): Promise<{ entry: QueueItemView | null; started: boolean; version: number }> {
    const track = 'track' in input ? input.track : this.catalog.get(input.trackId);
    if (!track) {
      throw chorusError('CATALOG_TRACK_NOT_FOUND', { trackId: 'trackId' in input ? input.trackId : '' });
    }
    const command: Command = { type: 'addTrack', entryId: newId('e'), track };
    const { value, state } = await this.run(caller.roomId, caller.memberId, command, commandId);
    const added = value as Extract<CommandValue, { type: 'addTrack' }>;
    const index = queuePosition(state, added.entry.entryId);
    // Only the new entry's own view (position, ETA): a big room's whole queue would dwarf the answer.
    const entry =
      index < 0
        ? null
        : (viewRoom(state, { now: this.now(), viewer: caller.memberId, offset: index, limit: 1 }).queue[0] ??
          null);
    return { entry, started: added.started, version: state.version };
  }

  async removeEntry(
    caller: Caller,
    entryId: string,
    commandId?: string,
  ): Promise<{ entryId: string; version: number }> {
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'removeEntry', entryId },
      commandId,
    );
    return { entryId, version: state.version };
  }

  async vote(
    caller: Caller,
    entryId: string,
    value: VoteValue | 0,
    commandId?: string,
  ): Promise<Extract<CommandValue, { type: 'vote' }> & { version: number; myVote: VoteValue | 0 }> {
    const out = await this.run(caller.roomId, caller.memberId, { type: 'vote', entryId, value }, commandId);
    const result = out.value as Extract<CommandValue, { type: 'vote' }>;
    // A retry answers with the position the first time saw (data written before votes carried it: none).
    // The caller's own vote is what they asked for (a retry asks the same): events never say it.
    return { ...result, position: result.position ?? null, version: out.state.version, myVote: value };
  }

  /** Host skip (or start when idle). Without expectedEntryId, skips whatever plays now. */
  async skipTrack(
    caller: Caller,
    expectedEntryId?: string | null,
    commandId?: string,
  ): Promise<AdvanceAnswer> {
    const expected =
      expectedEntryId !== undefined
        ? expectedEntryId
        : ((await this.read(caller.roomId)).nowPlaying?.entry.entryId ?? null);
    return this.advance(caller, { type: 'advance', expectedEntryId: expected, reason: 'skipped' }, commandId);
  }

  /**
   * A member's device played `entryId` to its end: the same conditional advance as the clock's, so
   * however many devices report it, the room moves on once (the others answer advanced: false).
   */
  async reportEnded(caller: Caller, entryId: string, commandId?: string): Promise<AdvanceAnswer> {
    return this.advance(caller, { type: 'advance', expectedEntryId: entryId, reason: 'ended' }, commandId);
  }

  /** An advance by a member, answered with the play that ended and the room afterwards. */
  private async advance(
    caller: Caller,
    command: Extract<Command, { type: 'advance' }>,
    commandId?: string,
  ): Promise<AdvanceAnswer> {
    const { value, state } = await this.run(caller.roomId, caller.memberId, command, commandId);
    const { advanced, ended } = value as Extract<CommandValue, { type: 'advance' }>;
    return {
      advanced,
      ended: ended ? historyItem(state, ended) : null,
      room: this.view(state, caller.memberId),
    };
  }

  /** Host: pause (true) or resume (false) the playing track. */
  async setPaused(caller: Caller, paused: boolean, commandId?: string): Promise<RoomView> {
    const command: Command = { type: paused ? 'pause' : 'resume' };
    const { state } = await this.run(caller.roomId, caller.memberId, command, commandId);
    return this.view(state, caller.memberId);
  }

  /** The playback clock's proposal: the track `entryId` has run out. A no-op if it already moved on. */
  async finish(roomId: string, entryId: string): Promise<void> {
    await this.run(roomId, null, { type: 'advance', expectedEntryId: entryId, reason: 'finished' });
  }

  /** `passcode`: a new one, or null to remove it; undefined leaves it. */
  async updateSettings(
    caller: Caller,
    patch: SettingsPatch,
    commandId?: string,
    passcode?: string | null,
  ): Promise<RoomView> {
    const passcodeHash =
      passcode === undefined || passcode === null ? passcode : await hashPasscode(caller.roomId, passcode);
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'updateSettings', patch, ...(passcodeHash !== undefined ? { passcodeHash } : {}) },
      commandId,
    );
    // A room made private gets its invite now, so that its id alone stops opening it.
    if (patch.public === false && state.invite === undefined) {
      await this.newInvite(caller, commandId === undefined ? undefined : `${commandId}~invite`);
      return this.view(await this.read(caller.roomId), caller.memberId);
    }
    return this.view(state, caller.memberId);
  }

  async setLocked(caller: Caller, locked: boolean, commandId?: string): Promise<RoomView> {
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'setLocked', locked },
      commandId,
    );
    return this.view(state, caller.memberId);
  }

  async getRoom(roomId: string, options: ReadOptions = {}): Promise<RoomView> {
    const read =
      options.consistency === 'linearizable' && this.store.readLinearizable
        ? this.found(roomId, await this.store.readLinearizable(roomId, this.readTimeoutMs))
        : await this.read(roomId, options.minVersion);
    const state = this.admit(read, { memberId: options.viewer ?? null, invite: options.invite ?? null });
    return viewRoom(state, {
      now: this.now(),
      viewer: options.viewer ?? null,
      ...(options.offset !== undefined ? { offset: options.offset } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    });
  }

  async history(
    roomId: string,
    options: { before?: number | undefined; limit: number; minVersion?: number | undefined; who: Visitor },
  ): Promise<HistoryPage & { version: number }> {
    const state = await this.enter(roomId, options.who, options.minVersion);
    const page = historyPage(state, {
      limit: options.limit,
      ...(options.before !== undefined ? { before: options.before } : {}),
    });
    return { ...page, version: state.version };
  }

  listRooms(limit: number): Promise<readonly RoomListing[]> {
    return this.store.listRooms(limit);
  }

  /**
   * The room's feed, for whoever may see it. Once a private room removes the watching member, the
   * rest of the feed is withheld from them (the stream stays open, silent; a new one needs the invite).
   */
  async subscribe(
    roomId: string,
    afterVersion: number,
    listener: FeedListener,
    who: Visitor,
  ): Promise<Subscription> {
    const state = await this.enter(roomId, who);
    const member = who.memberId;
    if (member === null || state.settings.public) return this.store.subscribe(roomId, afterVersion, listener);
    let cut = false;
    return this.store.subscribe(roomId, afterVersion, (item) => {
      if (cut) return;
      if (item.kind === 'reset' ? !mayEnter(item.state, who) : removes(item.event, member)) cut = true;
      if (!cut) listener(item);
    });
  }

  // ---- Hosts, co-hosts, removal, recovery (rules: src/domain/access.ts) ------------------------

  /** The room's members with their roles, for its host and co-hosts. */
  async members(
    caller: Caller,
    minVersion?: number,
  ): Promise<{ members: MemberListing[]; banned: BanListing[]; version: number }> {
    const state = await this.read(caller.roomId, minVersion);
    const me = isMember(state, caller.memberId) ? state.members.get(caller.memberId)! : null;
    if (!me || !hasHostPowers(me)) throw chorusError('HOST_ONLY', { action: 'see the members' });
    const members = state.members
      .values()
      .map((m) => ({ memberId: m.memberId, name: m.name, role: roleOf(m), joinedAt: m.joinedAt }))
      .sort((a, b) => a.joinedAt - b.joinedAt || (a.memberId < b.memberId ? -1 : 1));
    const banned = (state.bans ?? []).map((b) => ({ memberId: b.memberId, name: b.name, at: b.at }));
    return { members, banned, version: state.version };
  }

  async setRole(
    caller: Caller,
    memberId: string,
    role: 'cohost' | 'member',
    commandId?: string,
  ): Promise<RoomView> {
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'setRole', memberId, role },
      commandId,
    );
    return this.view(state, caller.memberId);
  }

  async handOver(caller: Caller, memberId: string, commandId?: string): Promise<RoomView> {
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'handOver', memberId },
      commandId,
    );
    return this.view(state, caller.memberId);
  }

  async removeMember(
    caller: Caller,
    memberId: string,
    options: { ban: boolean; removeEntries: boolean },
    commandId?: string,
  ): Promise<{ memberId: string; banned: boolean; removedEntries: number; version: number }> {
    const { value, state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'removeMember', memberId, ban: options.ban, removeEntries: options.removeEntries },
      commandId,
    );
    const done = value as Extract<CommandValue, { type: 'removeMember' }>;
    return {
      memberId: done.memberId,
      banned: done.banned,
      removedEntries: done.removedEntries,
      version: state.version,
    };
  }

  /** Presents the recovery key: a new host identity (the old host's id leaves the room). */
  async recoverHost(
    roomId: string,
    recoveryKey: string,
    commandId?: string,
  ): Promise<{ room: RoomView; memberId: string; token: string }> {
    // Rate-limited like joins: a key is 192 random bits, but guessing should cost something too.
    this.joins?.take(`recover/${roomId}`);
    const { value, state } = await this.run(
      roomId,
      null,
      { type: 'recoverHost', memberId: newId('m'), keyHash: hashKey(recoveryKey) },
      commandId,
    );
    const memberId = (value as Extract<CommandValue, { type: 'recoverHost' }>).memberId;
    return { room: this.view(state, memberId), memberId, token: this.tokens.sign({ roomId, memberId }) };
  }

  /** A new invite secret for the room's link: links with the old one stop working. */
  async newInvite(caller: Caller, commandId?: string): Promise<{ invite: string; version: number }> {
    const invite = randomBytes(INVITE_BYTES).toString('base64url');
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'setInvite', invite },
      commandId,
    );
    return { invite: state.invite ?? invite, version: state.version };
  }

  searchCatalog(query: string, limit: number): readonly Track[] {
    return this.catalog.search(query, limit);
  }

  getTrack(trackId: string): Track {
    const track = this.catalog.get(trackId);
    if (!track) throw chorusError('CATALOG_TRACK_NOT_FOUND', { trackId });
    return track;
  }

  /** This node's view of its store's group (GET /v1/cluster, ClusterService/GetStatus). */
  clusterStatus(): GroupStatus & { store: string } {
    if (!this.store.groupStatus) {
      throw chorusError('STORE_NO_GROUP', { store: this.store.kind });
    }
    return { store: this.store.kind, ...this.store.groupStatus() };
  }

  /** The raw room state (for the legacy API and the playback clock). */
  async read(roomId: string, minVersion?: number): Promise<RoomState> {
    return this.found(roomId, await this.store.read(roomId, minVersion, this.readTimeoutMs));
  }

  private found(roomId: string, state: RoomState | null): RoomState {
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

/**
 * Where an entry added by a command stands in the room right after it (0-based), or -1 when it is
 * not queued. A binary search, since the entry has no votes yet; a retry's entry may have gained
 * votes since, and is looked for along the queue.
 */
/** Where the queued entry with this id stands now (0-based), or -1: found by id, then placed by its current counts. */
function queuePosition(state: RoomState, entryId: string): number {
  const entry = findEntry(state.queue, entryId);
  return entry ? indexOfEntry(state.queue, entry) : -1;
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
