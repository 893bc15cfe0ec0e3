// What the client commands need of a node, whichever transport carries it: RestClient and
// GrpcClient both satisfy this, and answer in the REST API's JSON shapes.

import type { QueueItemView, RoomView, SettingsPatch, Track } from '../domain/index.ts';
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

export interface ChorusClient {
  /** The node as the user named it: a URL for REST, HOST:PORT for gRPC. Saved tokens are keyed by it. */
  readonly server: string;
  listRooms(limit?: number): Promise<{ rooms: RoomListing[] }>;
  createRoom(body: {
    name: string;
    hostName: string;
    roomId?: string;
    settings?: SettingsPatch;
  }): Promise<Joined>;
  /** `access`: a private room's invite, and the key this client keeps (a ban refuses it again). */
  join(roomId: string, name: string, access?: JoinAccess): Promise<Joined>;
  room(roomId: string, query?: { minVersion?: number; offset?: number; limit?: number }): Promise<RoomView>;
  add(roomId: string, input: { trackId: string } | { track: Track }, idempotencyKey?: string): Promise<Added>;
  remove(roomId: string, entryId: string): Promise<{ entryId: string; version: number }>;
  vote(roomId: string, entryId: string, value: 1 | -1 | 0): Promise<Voted>;
  advance(roomId: string, expectedEntryId?: string | null): Promise<{ advanced: boolean; room: RoomView }>;
  /** Host: pause (true) or resume (false) the playing track. */
  setPaused(roomId: string, paused: boolean): Promise<RoomView>;
  /** This device played `entryId` to its end (advances once, whoever reports it). */
  reportEnded(roomId: string, entryId: string): Promise<{ advanced: boolean; room: RoomView }>;
  history(roomId: string, query?: { before?: number; limit?: number }): Promise<HistoryAnswer>;
  search(q: string, limit?: number): Promise<{ tracks: Track[] }>;
  track(trackId: string): Promise<Track>;
}
