// The CLI's gRPC transport: the same methods as RestClient over chorus.v1, answering in the REST
// API's shapes (convert.ts), failures as ChorusError from the trailers. `watch` follows a room with
// the Watch stream and resumes after a disconnect from the last version it saw.

import { status, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import { callMetadata, connect, unaryCall, type Stubs } from '../api/grpc/client.ts';
import { fromPbEvent } from '../api/grpc/convert-events.ts';
import {
  fromPbHistoryRecord,
  fromPbListing,
  fromPbQueueItem,
  fromPbRoom,
  fromPbTrack,
  toPbSettingsPatch,
  toPbTrack,
} from '../api/grpc/convert.ts';
import { ERROR_CODE_KEY, fromServiceError } from '../api/grpc/errors.ts';
import type * as pb from '../api/grpc/generated/chorus/v1/index.ts';
import {
  chorusError,
  type Role,
  type RoomEvent,
  type RoomView,
  type SettingsPatch,
  type Track,
} from '../domain/index.ts';
import type { RoomListing } from '../store/types.ts';
import type {
  Added,
  ChorusClient,
  HistoryAnswer,
  JoinAccess,
  Joined,
  Members,
  Recovered,
  Removed,
  Voted,
} from './api-client.ts';
import { cliError } from './errors.ts';

export interface GrpcClientOptions {
  /** HOST:PORT. */
  readonly server: string;
  readonly token?: string | undefined;
  readonly timeoutMs?: number;
}

export type WatchMessage =
  | { readonly event: 'reset'; readonly data: { readonly version: number; readonly room: RoomView } }
  | { readonly event: 'change'; readonly data: { readonly version: number; readonly events: RoomEvent[] } }
  | {
      readonly event: 'removed';
      readonly data: { readonly version: number; readonly memberId: string; readonly banned: boolean };
    };

const DIRECTION = {
  1: 'VOTE_DIRECTION_UP',
  [-1]: 'VOTE_DIRECTION_DOWN',
  0: 'VOTE_DIRECTION_WITHDRAW',
} as const;
const EFFECT: Readonly<Record<string, string>> = {
  VOTE_EFFECT_VOTED_OFF: 'votedOff',
  VOTE_EFFECT_SKIPPED: 'skipped',
};

export class GrpcClient implements ChorusClient {
  readonly server: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly stubs: Stubs;

  constructor(options: GrpcClientOptions) {
    this.server = options.server;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.stubs = connect(options.server);
  }

  close(): void {
    this.stubs.close();
  }

  async listRooms(limit = 50): Promise<{ rooms: RoomListing[] }> {
    const answer = await this.call<pb.ListRoomsResponse__Output>((md, opts, done) =>
      this.stubs.rooms.ListRooms({ limit }, md, opts, done),
    );
    return { rooms: answer.rooms.map(fromPbListing) };
  }

  async createRoom(body: {
    name: string;
    hostName: string;
    roomId?: string;
    settings?: SettingsPatch;
    passcode?: string;
  }): Promise<Joined> {
    const request: pb.CreateRoomRequest = {
      name: body.name,
      hostName: body.hostName,
      ...(body.roomId !== undefined ? { roomId: body.roomId } : {}),
      ...(body.settings ? { settings: toPbSettingsPatch(body.settings) } : {}),
      ...(body.passcode !== undefined ? { passcode: body.passcode } : {}),
    };
    return this.joined(
      await this.call<pb.JoinResponse__Output>((md, opts, done) =>
        this.stubs.rooms.CreateRoom(request, md, opts, done),
      ),
    );
  }

  async join(roomId: string, name: string, access: JoinAccess = {}): Promise<Joined> {
    const request: pb.JoinRequest = {
      roomId,
      name,
      invite: access.invite ?? '',
      clientKey: access.clientKey ?? '',
      ...(access.passcode !== undefined ? { passcode: access.passcode } : {}),
    };
    const answer = await this.call<pb.JoinResponse__Output>((md, opts, done) =>
      this.stubs.sessions.Join(request, md, opts, done),
    );
    return { ...this.joined(answer), pending: answer.pending };
  }

  async room(
    roomId: string,
    query: { minVersion?: number; offset?: number; limit?: number; invite?: string } = {},
  ): Promise<RoomView> {
    const answer = await this.call<pb.Room__Output>((md, opts, done) =>
      this.stubs.rooms.GetRoom({ roomId, ...query }, md, opts, done),
    );
    return fromPbRoom(answer);
  }

  async add(
    roomId: string,
    input: { trackId: string } | { track: Track },
    idempotencyKey?: string,
  ): Promise<Added> {
    const source = 'track' in input ? { track: toPbTrack(input.track) } : { trackId: input.trackId };
    const answer = await this.call<pb.AddTrackResponse__Output>(
      (md, opts, done) => this.stubs.queue.AddTrack({ roomId, ...source }, md, opts, done),
      idempotencyKey,
    );
    return {
      entry: answer.entry ? fromPbQueueItem(answer.entry) : null,
      started: answer.started,
      version: answer.version,
    };
  }

  remove(roomId: string, entryId: string): Promise<{ entryId: string; version: number }> {
    return this.call<pb.RemoveEntryResponse__Output>((md, opts, done) =>
      this.stubs.queue.RemoveEntry({ roomId, entryId }, md, opts, done),
    );
  }

  async vote(roomId: string, entryId: string, value: 1 | -1 | 0): Promise<Voted> {
    const answer = await this.call<pb.VoteResponse__Output>((md, opts, done) =>
      this.stubs.queue.Vote({ roomId, entryId, direction: DIRECTION[value] }, md, opts, done),
    );
    return {
      ...answer,
      effect: EFFECT[answer.effect] ?? 'none',
      position: answer.position === 0 ? null : answer.position,
      myVote: answer.myVote > 0 ? 1 : answer.myVote < 0 ? -1 : 0,
    };
  }

  /** Also answers the play that ended, as the REST API does. */
  async advance(
    roomId: string,
    expectedEntryId?: string | null,
  ): Promise<{ advanced: boolean; ended: HistoryAnswer['records'][number] | null; room: RoomView }> {
    const expected = expectedEntryId === undefined ? {} : { expectedEntryId: expectedEntryId ?? '' };
    const answer = await this.call<pb.AdvanceResponse__Output>((md, opts, done) =>
      this.stubs.queue.Advance({ roomId, ...expected }, md, opts, done),
    );
    if (!answer.room) throw chorusError('ANSWER_MALFORMED', { problem: 'Advance without the room' });
    return {
      advanced: answer.advanced,
      ended: answer.ended ? fromPbHistoryRecord(answer.ended) : null,
      room: fromPbRoom(answer.room),
    };
  }

  async setPaused(roomId: string, paused: boolean): Promise<RoomView> {
    const answer = await this.call<pb.Room__Output>((md, opts, done) =>
      paused
        ? this.stubs.queue.Pause({ roomId }, md, opts, done)
        : this.stubs.queue.Resume({ roomId }, md, opts, done),
    );
    return fromPbRoom(answer);
  }

  async reportEnded(roomId: string, entryId: string): Promise<{ advanced: boolean; room: RoomView }> {
    const answer = await this.call<pb.AdvanceResponse__Output>((md, opts, done) =>
      this.stubs.queue.ReportEnded({ roomId, entryId }, md, opts, done),
    );
    if (!answer.room) throw chorusError('ANSWER_MALFORMED', { problem: 'ReportEnded without the room' });
    return { advanced: answer.advanced, room: fromPbRoom(answer.room) };
  }

  async history(
    roomId: string,
    query: { before?: number; limit?: number; invite?: string } = {},
  ): Promise<HistoryAnswer> {
    const answer = await this.call<pb.HistoryPage__Output>((md, opts, done) =>
      this.stubs.rooms.GetHistory({ roomId, ...query }, md, opts, done),
    );
    return {
      records: answer.records.map(fromPbHistoryRecord),
      nextBefore: answer.nextBefore === 0 ? null : answer.nextBefore,
      version: answer.version,
    };
  }

  async search(q: string, limit = 20): Promise<{ tracks: Track[] }> {
    const answer = await this.call<pb.SearchTracksResponse__Output>((md, opts, done) =>
      this.stubs.catalog.SearchTracks({ query: q, limit }, md, opts, done),
    );
    return { tracks: answer.tracks.map(fromPbTrack) };
  }

  async track(trackId: string): Promise<Track> {
    return fromPbTrack(
      await this.call<pb.Track__Output>((md, opts, done) =>
        this.stubs.catalog.GetTrack({ trackId }, md, opts, done),
      ),
    );
  }

  async members(roomId: string): Promise<Members> {
    const answer = await this.call<pb.ListMembersResponse__Output>((md, opts, done) =>
      this.stubs.rooms.ListMembers({ roomId }, md, opts, done),
    );
    return {
      members: answer.members.map((m) => ({
        memberId: m.memberId,
        name: m.name,
        role: m.role as Role,
        joinedAt: m.joinedAt,
      })),
      banned: answer.banned.map((b) => ({ memberId: b.memberId, name: b.name, at: b.at })),
      version: answer.version,
    };
  }

  async setRole(roomId: string, memberId: string, role: 'cohost' | 'member'): Promise<RoomView> {
    return fromPbRoom(
      await this.call<pb.Room__Output>((md, opts, done) =>
        this.stubs.rooms.SetRole({ roomId, memberId, role }, md, opts, done),
      ),
    );
  }

  async handOver(roomId: string, memberId: string): Promise<RoomView> {
    return fromPbRoom(
      await this.call<pb.Room__Output>((md, opts, done) =>
        this.stubs.rooms.HandOver({ roomId, memberId }, md, opts, done),
      ),
    );
  }

  removeMember(
    roomId: string,
    memberId: string,
    how: { readonly ban: boolean; readonly removeEntries: boolean },
  ): Promise<Removed> {
    return this.call<pb.RemoveMemberResponse__Output>((md, opts, done) =>
      this.stubs.rooms.RemoveMember({ roomId, memberId, ...how }, md, opts, done),
    );
  }

  async recoverHost(roomId: string, recoveryKey: string): Promise<Recovered> {
    const answer = await this.call<pb.JoinResponse__Output>((md, opts, done) =>
      this.stubs.rooms.RecoverHost({ roomId, recoveryKey }, md, opts, done),
    );
    const { room, memberId, token } = this.joined(answer);
    return { room, memberId, token };
  }

  newRecoveryKey(roomId: string): Promise<{ recoveryKey: string; version: number }> {
    return this.call<pb.NewRecoveryKeyResponse__Output>((md, opts, done) =>
      this.stubs.rooms.NewRecoveryKey({ roomId }, md, opts, done),
    );
  }

  newInvite(roomId: string): Promise<{ invite: string; version: number }> {
    return this.call<pb.NewInviteResponse__Output>((md, opts, done) =>
      this.stubs.rooms.NewInvite({ roomId }, md, opts, done),
    );
  }

  async decideJoin(roomId: string, memberId: string, approve: boolean): Promise<RoomView> {
    return fromPbRoom(
      await this.call<pb.Room__Output>((md, opts, done) =>
        this.stubs.rooms.DecideJoin({ roomId, memberId, approve }, md, opts, done),
      ),
    );
  }

  async updateSettings(roomId: string, patch: SettingsPatch, passcode?: string | null): Promise<RoomView> {
    const request: pb.UpdateSettingsRequest = {
      roomId,
      patch: toPbSettingsPatch(patch),
      // "" removes the passcode; unset leaves it.
      ...(passcode !== undefined ? { passcode: passcode ?? '' } : {}),
    };
    return fromPbRoom(
      await this.call<pb.Room__Output>((md, opts, done) =>
        this.stubs.rooms.UpdateSettings(request, md, opts, done),
      ),
    );
  }

  /**
   * Follows a room until `signal` aborts, or the room removes the watcher (a last `removed`
   * message): the first message is a reset (the whole room), then one change per version. After a
   * lost connection it watches again from the last version it saw. `invite`: a private room's.
   */
  async watch(
    roomId: string,
    onMessage: (message: WatchMessage) => void,
    signal: AbortSignal,
    invite?: string,
  ): Promise<void> {
    let after: number | null = null;
    let removed = false;
    while (!signal.aborted && !removed) {
      try {
        await new Promise<void>((resolve, reject) => {
          const request = {
            roomId,
            ...(after === null ? {} : { afterVersion: after }),
            ...(invite !== undefined ? { invite } : {}),
          };
          const call = this.stubs.rooms.Watch(request, callMetadata(this.token));
          const stop = (): void => call.cancel();
          signal.addEventListener('abort', stop, { once: true });
          call.on('data', (message: pb.WatchResponse__Output) => {
            if (message.kind === 'reset' && message.reset) {
              onMessage({
                event: 'reset',
                data: { version: message.version, room: fromPbRoom(message.reset) },
              });
            } else if (message.kind === 'change' && message.change) {
              const events = message.change.events.map(fromPbEvent);
              onMessage({ event: 'change', data: { version: message.version, events } });
            } else if (message.kind === 'removed' && message.removed) {
              removed = true;
              const { memberId, banned } = message.removed;
              onMessage({ event: 'removed', data: { version: message.version, memberId, banned } });
            }
            if (message.kind !== 'heartbeat') after = message.version;
          });
          call.on('error', (err: ServiceError) => {
            signal.removeEventListener('abort', stop);
            reject(err);
          });
          call.on('end', () => {
            signal.removeEventListener('abort', stop);
            resolve();
          });
        });
      } catch (err) {
        if (signal.aborted) return;
        const failure = fromServiceError(err as ServiceError);
        if (failure.code !== 'UNAVAILABLE') throw failure;
        process.stderr.write('connection lost; reconnecting...\n');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private joined(answer: pb.JoinResponse__Output): Joined {
    if (!answer.room) throw chorusError('ANSWER_MALFORMED', { problem: 'a join without the room' });
    return {
      room: fromPbRoom(answer.room),
      memberId: answer.memberId,
      token: answer.token,
      ...(answer.recoveryKey ? { recoveryKey: answer.recoveryKey } : {}),
      ...(answer.invite ? { invite: answer.invite } : {}),
    };
  }

  /** One unary call with this client's token and timeout; failures become ChorusError. */
  private async call<Res>(
    invoke: (
      metadata: ReturnType<typeof callMetadata>,
      options: CallOptions,
      done: (err: ServiceError | null, value?: Res) => void,
    ) => unknown,
    idempotencyKey?: string,
  ): Promise<Res> {
    const metadata = callMetadata(this.token, idempotencyKey);
    const options: CallOptions = { deadline: Date.now() + this.timeoutMs };
    try {
      return await unaryCall<Res>((done) => invoke(metadata, options, done));
    } catch (err) {
      if (isServiceError(err)) {
        if (err.code === status.UNAVAILABLE && !err.metadata?.get(ERROR_CODE_KEY).length) {
          throw cliError('SERVER_UNREACHABLE', { server: this.server, problem: err.details });
        }
        throw fromServiceError(err);
      }
      throw err;
    }
  }
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number';
}
