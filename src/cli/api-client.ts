// What the client commands need of a node, whichever transport carries it: RestClient and
// GrpcClient both satisfy this, and answer in the REST API's JSON shapes.

import type { QueueItemView, Role, RoomView, SettingsPatch, Track } from '../domain/index.ts';
import type { RoomListing } from '../store/types.ts';
import type { JoinAccess, Joined } from './rest-client.ts';

export type { JoinAccess, Joined };

export const TRANSPORTS = ['rest', 'grpc'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface Added {
  readonly entry: QueueItemView | null;
  readonly started: boolean;
  readonly version: number;
}

export interface Voted {
  readonly entryId: string;
  readonly ups: number;
  readonly downs: number;
  readonly score: number;
  readonly effect: string;
  readonly position: number | null;
  readonly version: number;
  /** The caller's own vote now (events never say it). */
  readonly myVote: 1 | -1 | 0;
}

export interface HistoryAnswer {
  readonly records: ReadonlyArray<{
    readonly playNo: number;
    readonly track: Track;
    readonly addedBy: { readonly memberId: string; readonly name: string };
    readonly reason: string;
    readonly ups: number;
    readonly downs: number;
    readonly startedAt: number;
    readonly endedAt: number;
  }>;
  readonly nextBefore: number | null;
  readonly version: number;
}

/** The members of a room as its host and co-hosts see them (GET /v1/rooms/:id/members). */
export interface Members {
  readonly members: ReadonlyArray<{
    readonly memberId: string;
    readonly name: string;
    readonly role: Role;
    readonly joinedAt: number;
  }>;
  readonly banned: ReadonlyArray<{ readonly memberId: string; readonly name: string; readonly at: number }>;
  readonly version: number;
}

/** The members with who is here now (the room view's `present`): what `chorus members` shows. */
export interface MemberListing extends Members {
  readonly present: readonly string[];
}

export interface Removed {
  readonly memberId: string;
  readonly banned: boolean;
  readonly removedEntries: number;
  readonly version: number;
}

export interface Recovered {
  readonly room: RoomView;
  readonly memberId: string;
  readonly token: string;
}

export interface ChorusClient {
  /** The node as the user named it: a URL for REST, HOST:PORT for gRPC. Saved tokens are keyed by it. */
  readonly server: string;
  listRooms(limit?: number): Promise<{ rooms: RoomListing[] }>;
  createRoom(body: {
    name: string;
    hostName: string;
    roomId?: string;
    settings?: SettingsPatch;
    passcode?: string;
  }): Promise<Joined>;
  /**
   * `access`: a private room's invite, the passcode, and the key this client keeps (a ban refuses
   * it again).
   */
  join(roomId: string, name: string, access?: JoinAccess): Promise<Joined>;
  room(
    roomId: string,
    query?: { minVersion?: number; offset?: number; limit?: number; invite?: string },
  ): Promise<RoomView>;
  add(roomId: string, input: { trackId: string } | { track: Track }, idempotencyKey?: string): Promise<Added>;
  remove(roomId: string, entryId: string): Promise<{ entryId: string; version: number }>;
  vote(roomId: string, entryId: string, value: 1 | -1 | 0): Promise<Voted>;
  advance(roomId: string, expectedEntryId?: string | null): Promise<{ advanced: boolean; room: RoomView }>;
  /** Host: pause (true) or resume (false) the playing track. */
  setPaused(roomId: string, paused: boolean): Promise<RoomView>;
  /** This device played `entryId` to its end (advances once, whoever reports it). */
  reportEnded(roomId: string, entryId: string): Promise<{ advanced: boolean; room: RoomView }>;
  history(
    roomId: string,
    query?: { before?: number; limit?: number; invite?: string },
  ): Promise<HistoryAnswer>;
  search(q: string, limit?: number): Promise<{ tracks: Track[] }>;
  track(trackId: string): Promise<Track>;
  // ---- Hosts and members (issue 20) ----
  /** Host and co-hosts: the members with their roles, and the banned. */
  members(roomId: string): Promise<Members>;
  /** Host: make a member a co-host, or a plain member again. */
  setRole(roomId: string, memberId: string, role: 'cohost' | 'member'): Promise<RoomView>;
  /** Host: make another member the host (the old host stays on as a co-host). */
  handOver(roomId: string, memberId: string): Promise<RoomView>;
  /** Host or co-host: remove a member, with their waiting entries or not, banned or not. */
  removeMember(
    roomId: string,
    memberId: string,
    how: { readonly ban: boolean; readonly removeEntries: boolean },
  ): Promise<Removed>;
  /** Anyone with the recovery key: a new host identity (the old one leaves the room). */
  recoverHost(roomId: string, recoveryKey: string): Promise<Recovered>;
  /** Host: a new recovery key, answered once (the one before, if any, stops working). */
  newRecoveryKey(roomId: string): Promise<{ recoveryKey: string; version: number }>;
  /** Host or co-host: a new invite secret (old links stop working). */
  newInvite(roomId: string): Promise<{ invite: string; version: number }>;
  /** Host: admit (true) or turn away (false) a waiting join request. */
  decideJoin(roomId: string, memberId: string, approve: boolean): Promise<RoomView>;
  /** Host: change settings; `passcode` a new passcode, null removes it, undefined leaves it. */
  updateSettings(roomId: string, patch: SettingsPatch, passcode?: string | null): Promise<RoomView>;
}
