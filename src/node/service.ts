// The operations of a Chorus node, shared by every transport (REST, gRPC, legacy). A transport
// authenticates, parses and maps errors; this builds commands (ids, time, actor), hands them to
// the store and turns the domain's answers into views. Errors are thrown as ChorusError.
//
// RoomService is split along its seams, each a class extending the one before: the core
// (service-core.ts: authentication, who may see a room, reads, submitting a command), access
// (service-access.ts: hosts, co-hosts, removal, recovery, invites), the queue (service-queue.ts),
// and here rooms themselves (create, join, settings, reads of the room, its history and feed), the
// catalog and the cluster status. Transports see only RoomService.

import { randomBytes } from 'node:crypto';
import {
  historyPage,
  viewRoom,
  type Command,
  type CommandValue,
  type HistoryPage,
  type RoomView,
  type SettingsPatch,
  type Track,
  chorusError,
} from '../domain/index.ts';
import type { FeedItem, GroupStatus, RoomListing, Subscription } from '../store/types.ts';
import { isBannedMember, mayEnter } from '../domain/access.ts';
import { newId, roomSlug } from './ids.ts';
import { hashPasscode } from './passcode.ts';
import { INVITE_BYTES, RECOVERY_KEY_BYTES } from './service-access.ts';
import { hashKey, type Caller, type ReadOptions, type Visitor } from './service-core.ts';
import { QueueService } from './service-queue.ts';

export {
  hashKey,
  scopedCommandId,
  type Caller,
  type ReadOptions,
  type ServiceOptions,
  type ServiceRates,
  type TrackSource,
  type Visitor,
} from './service-core.ts';
export type { BanListing, MemberListing } from './service-access.ts';
export type { AddTrackInput, AdvanceAnswer } from './service-queue.ts';

/**
 * What a member's own live stream receives when the room removes them (kicked, banned, or replaced
 * as host by a recovery): the last thing it sends before the transport closes it. `version` is the
 * room version that removed them; nothing of it or after it is sent on that stream.
 */
export interface RemovedItem {
  readonly kind: 'removed';
  readonly memberId: string;
  readonly banned: boolean;
  readonly version: number;
}

/** What a stream (SSE, Watch) receives from `RoomService.subscribe`. */
export type StreamItem = FeedItem | RemovedItem;

/**
 * Whether `item` removes `memberId` from the room: a `memberRemoved` event naming them, or a reset
 * (the events were gone) of a room they were in (`wasMember`) that no longer has them.
 */
export function removalIn(item: FeedItem, memberId: string, wasMember: boolean): RemovedItem | null {
  if (item.kind === 'event') {
    const event = item.event;
    return event.type === 'memberRemoved' && event.memberId === memberId
      ? { kind: 'removed', memberId, banned: event.banned, version: event.version }
      : null;
  }
  if (!wasMember || item.state.members.has(memberId)) return null;
  return {
    kind: 'removed',
    memberId,
    banned: isBannedMember(item.state, memberId),
    version: item.state.version,
  };
}

export class RoomService extends QueueService {
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
   * The room's feed, for whoever may see it. A member's own stream (`who` holds their token) ends
   * with their removal: it gets one `removed` item instead of the version that removed them, and
   * nothing after it (the transport then closes it). Everyone else's streams see the room's events
   * as they are. A visitor whose invite stopped opening the room gets nothing more (silent).
   */
  async subscribe(
    roomId: string,
    afterVersion: number,
    listener: (item: StreamItem) => void,
    who: Visitor,
  ): Promise<Subscription> {
    const state = await this.enter(roomId, who);
    const member = who.memberId;
    if (member === null && state.settings.public) return this.store.subscribe(roomId, afterVersion, listener);
    // A waiting join request becomes a member when admitted: from then on a removal ends its stream.
    let wasMember = member !== null && state.members.has(member);
    let cut = false;
    return this.store.subscribe(roomId, afterVersion, (item: FeedItem) => {
      if (cut) return;
      const removal = member === null ? null : removalIn(item, member, wasMember);
      if (removal !== null) {
        cut = true;
        listener(removal);
        return;
      }
      if (item.kind === 'reset') {
        if (!mayEnter(item.state, who)) {
          cut = true;
          return;
        }
        wasMember = member !== null && item.state.members.has(member);
      } else if (item.event.type === 'memberJoined' && item.event.member.memberId === member) {
        wasMember = true;
      }
      listener(item);
    });
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
}
