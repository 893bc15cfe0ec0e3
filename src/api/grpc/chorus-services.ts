// The chorus.v1 services over the node's RoomService, exactly as the REST routes are: each handler
// checks its message, authenticates, calls the service and converts the answer. No rules here.

import { type VoteValue, chorusError } from '../../domain/index.ts';
import type { AddTrackInput, RoomService } from '../../node/service.ts';
import { serverStream, unary, type CallContext } from './call.ts';
import {
  fromPbSettingsPatch,
  fromPbTrack,
  toPbHistoryRecord,
  toPbListing,
  toPbQueueItem,
  toPbRoom,
  toPbTrack,
} from './convert.ts';
import type { ErrorLogger } from './errors.ts';
import type * as pb from './generated/chorus/v1/index.ts';
import { PAGE_LIMITS } from '../page-limits.ts';
import { idOf, intIn, pageLimit, roomIdOf, textOf, trackIdOf, versionOf } from './validate.ts';
import type { WatchHub } from './watch.ts';

export interface ChorusServices {
  readonly RoomService: pb.RoomServiceHandlers;
  readonly SessionService: pb.SessionServiceHandlers;
  readonly QueueService: pb.QueueServiceHandlers;
  readonly CatalogService: pb.CatalogServiceHandlers;
  readonly ClusterService: pb.ClusterServiceHandlers;
}

const VOTE = new Map<pb.VoteDirection__Output | number, VoteValue | 0>([
  ['VOTE_DIRECTION_UP', 1],
  ['VOTE_DIRECTION_DOWN', -1],
  ['VOTE_DIRECTION_WITHDRAW', 0],
]);

const EFFECT = {
  none: 'VOTE_EFFECT_NONE',
  votedOff: 'VOTE_EFFECT_VOTED_OFF',
  skipped: 'VOTE_EFFECT_SKIPPED',
} as const;

export function chorusServices(service: RoomService, watches: WatchHub, logger: ErrorLogger): ChorusServices {
  const caller = (ctx: CallContext, roomId: string) => service.authenticate(ctx.token, roomIdOf(roomId));
  const m = (name: string): string => `chorus.v1.${name}`;

  const RoomService: pb.RoomServiceHandlers = {
    CreateRoom: unary<pb.CreateRoomRequest__Output, pb.JoinResponse>(
      m('RoomService/CreateRoom'),
      logger,
      async (req, ctx) => {
        const created = await service.createRoom({
          name: req.name,
          hostName: req.hostName,
          roomId: req.roomId === undefined ? undefined : roomIdOf(req.roomId),
          settings: req.settings ? fromPbSettingsPatch(req.settings) : undefined,
          commandId: ctx.commandId,
          client: ctx.client,
          passcode: req.passcode,
        });
        return { ...created, room: toPbRoom(created.room) };
      },
    ),

    ListRooms: unary<pb.ListRoomsRequest__Output, pb.ListRoomsResponse>(
      m('RoomService/ListRooms'),
      logger,
      async (req) => {
        const rooms = await service.listRooms(pageLimit(req.limit, PAGE_LIMITS.rooms));
        return { rooms: rooms.map(toPbListing) };
      },
    ),

    GetRoom: unary<pb.GetRoomRequest__Output, pb.Room>(m('RoomService/GetRoom'), logger, async (req, ctx) => {
      const roomId = roomIdOf(req.roomId);
      const room = await service.getRoom(roomId, {
        viewer: service.viewerOf(ctx.token, roomId),
        invite: req.invite || null,
        minVersion: versionOf('min_version', req.minVersion),
        offset: intIn('offset', req.offset, 0, Number.MAX_SAFE_INTEGER),
        limit: req.limit === undefined ? PAGE_LIMITS.queue.fallback : pageLimit(req.limit, PAGE_LIMITS.queue),
        consistency: consistencyOf(req.consistency),
      });
      return toPbRoom(room);
    }),

    UpdateSettings: unary<pb.UpdateSettingsRequest__Output, pb.Room>(
      m('RoomService/UpdateSettings'),
      logger,
      async (req, ctx) => {
        const who = await caller(ctx, req.roomId);
        // "" removes the passcode; unset leaves it.
        const passcode = req.passcode === undefined ? undefined : req.passcode === '' ? null : req.passcode;
        return toPbRoom(
          await service.updateSettings(who, fromPbSettingsPatch(req.patch), ctx.commandId, passcode),
        );
      },
    ),

    SetLocked: unary<pb.SetLockedRequest__Output, pb.Room>(
      m('RoomService/SetLocked'),
      logger,
      async (req, ctx) =>
        toPbRoom(await service.setLocked(await caller(ctx, req.roomId), req.locked, ctx.commandId)),
    ),

    DecideJoin: unary<pb.DecideJoinRequest__Output, pb.Room>(
      m('RoomService/DecideJoin'),
      logger,
      async (req, ctx) =>
        toPbRoom(
          await service.decideJoin(await caller(ctx, req.roomId), req.memberId, req.approve, ctx.commandId),
        ),
    ),

    GetHistory: unary<pb.GetHistoryRequest__Output, pb.HistoryPage>(
      m('RoomService/GetHistory'),
      logger,
      async (req, ctx) => {
        const before = versionOf('before', req.before);
        const roomId = roomIdOf(req.roomId);
        const page = await service.history(roomId, {
          before: before === 0 ? undefined : before,
          limit: pageLimit(req.limit, PAGE_LIMITS.history),
          minVersion: versionOf('min_version', req.minVersion),
          who: service.visitor(ctx.token, roomId, req.invite || undefined),
        });
        return {
          records: page.records.map(toPbHistoryRecord),
          nextBefore: page.nextBefore ?? 0,
          version: page.version,
        };
      },
    ),

    Watch: serverStream<pb.WatchRequest__Output, pb.WatchResponse>(
      m('RoomService/Watch'),
      logger,
      async (req, call, ctx) => {
        const roomId = roomIdOf(req.roomId);
        const after = req.afterVersion === undefined ? null : versionOf('after_version', req.afterVersion);
        await watches.stream(
          service,
          roomId,
          after,
          service.visitor(ctx.token, roomId, req.invite || undefined),
          call,
        );
      },
    ),

    ListMembers: unary<pb.ListMembersRequest__Output, pb.ListMembersResponse>(
      m('RoomService/ListMembers'),
      logger,
      async (req, ctx) => service.members(await caller(ctx, req.roomId)),
    ),

    SetRole: unary<pb.SetRoleRequest__Output, pb.Room>(m('RoomService/SetRole'), logger, async (req, ctx) => {
      const who = await caller(ctx, req.roomId);
      if (req.role !== 'cohost' && req.role !== 'member') {
        throw chorusError('FIELD_INVALID', { field: 'role', problem: 'must be "cohost" or "member"' });
      }
      return toPbRoom(await service.setRole(who, idOf('member_id', req.memberId), req.role, ctx.commandId));
    }),

    HandOver: unary<pb.HandOverRequest__Output, pb.Room>(
      m('RoomService/HandOver'),
      logger,
      async (req, ctx) =>
        toPbRoom(
          await service.handOver(
            await caller(ctx, req.roomId),
            idOf('member_id', req.memberId),
            ctx.commandId,
          ),
        ),
    ),

    RemoveMember: unary<pb.RemoveMemberRequest__Output, pb.RemoveMemberResponse>(
      m('RoomService/RemoveMember'),
      logger,
      async (req, ctx) =>
        service.removeMember(
          await caller(ctx, req.roomId),
          idOf('member_id', req.memberId),
          { ban: req.ban, removeEntries: req.removeEntries },
          ctx.commandId,
        ),
    ),

    RecoverHost: unary<pb.RecoverHostRequest__Output, pb.JoinResponse>(
      m('RoomService/RecoverHost'),
      logger,
      async (req, ctx) => {
        const key = textOf('recovery_key', req.recoveryKey, 128);
        const recovered = await service.recoverHost(roomIdOf(req.roomId), key, ctx.commandId);
        return { ...recovered, room: toPbRoom(recovered.room) };
      },
    ),

    NewInvite: unary<pb.NewInviteRequest__Output, pb.NewInviteResponse>(
      m('RoomService/NewInvite'),
      logger,
      async (req, ctx) => service.newInvite(await caller(ctx, req.roomId), ctx.commandId),
    ),

    NewRecoveryKey: unary<pb.NewRecoveryKeyRequest__Output, pb.NewRecoveryKeyResponse>(
      m('RoomService/NewRecoveryKey'),
      logger,
      async (req, ctx) => service.newRecoveryKey(await caller(ctx, req.roomId), ctx.commandId),
    ),
  };

  const SessionService: pb.SessionServiceHandlers = {
    Join: unary<pb.JoinRequest__Output, pb.JoinResponse>(
      m('SessionService/Join'),
      logger,
      async (req, ctx) => {
        const joined = await service.join(roomIdOf(req.roomId), req.name, ctx.commandId, ctx.client, {
          invite: req.invite || undefined,
          clientKey: req.clientKey ? textOf('client_key', req.clientKey, 128, 16) : undefined,
          passcode: req.passcode,
        });
        return { ...joined, room: toPbRoom(joined.room) };
      },
    ),
  };

  const QueueService: pb.QueueServiceHandlers = {
    AddTrack: unary<pb.AddTrackRequest__Output, pb.AddTrackResponse>(
      m('QueueService/AddTrack'),
      logger,
      async (req, ctx) => {
        const who = await caller(ctx, req.roomId);
        let input: AddTrackInput;
        if (req.source === 'trackId' && req.trackId !== undefined) {
          input = { trackId: trackIdOf('track_id', req.trackId) };
        } else if (req.source === 'track' && req.track) {
          input = { track: fromPbTrack(req.track) };
        } else {
          throw chorusError('TRACK_UNSPECIFIED');
        }
        const added = await service.addTrack(who, input, ctx.commandId);
        return {
          entry: added.entry ? toPbQueueItem(added.entry) : null,
          started: added.started,
          version: added.version,
        };
      },
    ),

    RemoveEntry: unary<pb.RemoveEntryRequest__Output, pb.RemoveEntryResponse>(
      m('QueueService/RemoveEntry'),
      logger,
      async (req, ctx) =>
        service.removeEntry(await caller(ctx, req.roomId), idOf('entry_id', req.entryId), ctx.commandId),
    ),

    Vote: unary<pb.VoteRequest__Output, pb.VoteResponse>(m('QueueService/Vote'), logger, async (req, ctx) => {
      const who = await caller(ctx, req.roomId);
      const value = VOTE.get(req.direction);
      if (value === undefined) {
        throw chorusError('VOTE_DIRECTION_INVALID');
      }
      const result = await service.vote(who, idOf('entry_id', req.entryId), value, ctx.commandId);
      return {
        entryId: result.entryId,
        ups: result.ups,
        downs: result.downs,
        score: result.score,
        effect: EFFECT[result.effect],
        position: result.position ?? 0,
        version: result.version,
        myVote: result.myVote,
      };
    }),

    Advance: unary<pb.AdvanceRequest__Output, pb.AdvanceResponse>(
      m('QueueService/Advance'),
      logger,
      async (req, ctx) => {
        const who = await caller(ctx, req.roomId);
        const expected =
          req.expectedEntryId === undefined
            ? undefined
            : req.expectedEntryId === ''
              ? null
              : idOf('expected_entry_id', req.expectedEntryId);
        const { advanced, ended, room } = await service.skipTrack(who, expected, ctx.commandId);
        return { advanced, ended: ended ? toPbHistoryRecord(ended) : null, room: toPbRoom(room) };
      },
    ),

    Pause: unary<pb.PlaybackRequest__Output, pb.Room>(m('QueueService/Pause'), logger, async (req, ctx) =>
      toPbRoom(await service.setPaused(await caller(ctx, req.roomId), true, ctx.commandId)),
    ),

    Resume: unary<pb.PlaybackRequest__Output, pb.Room>(m('QueueService/Resume'), logger, async (req, ctx) =>
      toPbRoom(await service.setPaused(await caller(ctx, req.roomId), false, ctx.commandId)),
    ),

    ReportEnded: unary<pb.ReportEndedRequest__Output, pb.AdvanceResponse>(
      m('QueueService/ReportEnded'),
      logger,
      async (req, ctx) => {
        const who = await caller(ctx, req.roomId);
        const entryId = idOf('entry_id', req.entryId);
        const { advanced, ended, room } = await service.reportEnded(who, entryId, ctx.commandId);
        return { advanced, ended: ended ? toPbHistoryRecord(ended) : null, room: toPbRoom(room) };
      },
    ),
  };

  const CatalogService: pb.CatalogServiceHandlers = {
    SearchTracks: unary<pb.SearchTracksRequest__Output, pb.SearchTracksResponse>(
      m('CatalogService/SearchTracks'),
      logger,
      async (req) => {
        const query = textOf('query', req.query, 200, 0);
        return {
          tracks: service.searchCatalog(query, pageLimit(req.limit, PAGE_LIMITS.search)).map(toPbTrack),
        };
      },
    ),

    GetTrack: unary<pb.GetTrackRequest__Output, pb.Track>(m('CatalogService/GetTrack'), logger, async (req) =>
      toPbTrack(service.getTrack(trackIdOf('track_id', req.trackId))),
    ),
  };

  const ClusterService: pb.ClusterServiceHandlers = {
    GetStatus: unary<pb.GetStatusRequest__Output, pb.ClusterStatus>(
      m('ClusterService/GetStatus'),
      logger,
      async () => {
        const st = service.clusterStatus();
        return {
          store: st.store,
          nodeId: st.nodeId,
          role: st.role,
          leaderId: st.leaderId ?? '',
          members: st.members.map((mb) => ({
            id: mb.id,
            address: mb.address,
            role: mb.role,
            detailsJson: JSON.stringify(mb.details),
          })),
          detailsJson: JSON.stringify(st.details),
        };
      },
    ),
  };

  return { RoomService, SessionService, QueueService, CatalogService, ClusterService };
}

function consistencyOf(value: string): 'local' | 'linearizable' {
  if (value === '' || value === 'local') return 'local';
  if (value === 'linearizable') return 'linearizable';
  throw chorusError('CONSISTENCY_INVALID');
}
