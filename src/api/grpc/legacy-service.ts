// The earlier system's gRPC service, `queue.QueueService`, unchanged on the wire and served on the
// legacy room with the same rules as the legacy REST routes (../legacy-room.ts). As the earlier
// server did: a Track with proto3's default duration (0) is a track of unknown length, `votes` is
// ignored, an id not queued answers OK with the queue unchanged, and an unknown id on GetMetadata or
// PlayNext on an empty queue answers an empty Track. Ids are the same strings as the legacy REST
// API's integers. Other failures are gRPC statuses mapped like every Chorus error.

import { LIMITS, type RoomState, chorusError } from '../../domain/index.ts';
import type { RoomService } from '../../node/service.ts';
import {
  legacyHistory,
  legacyId,
  legacyQueue,
  LegacyRoom,
  LEGACY_MAX_DURATION_S,
  type LegacyView,
} from '../legacy-room.ts';
import { unary } from './call.ts';
import type { ErrorLogger } from './errors.ts';
import type * as pb from './generated/queue/index.ts';
import { textOf } from './validate.ts';

/** What GetMetadata and PlayNext answer when there is no track: every field at its default. */
const EMPTY_TRACK: pb.Track = { id: '', title: '', artist: '', votes: 0, duration: 0 };

function toPb(view: LegacyView): pb.Track {
  return {
    // The REST API's integer as text: the same id for the same track on both transports.
    id: String(legacyId(view.trackId)),
    title: view.title,
    artist: view.artist,
    votes: view.votes,
    duration: view.durationSeconds,
  };
}

function idOf(id: string): string {
  return textOf('id', id, LIMITS.textMaxLength);
}

export function legacyQueueService(
  service: RoomService,
  roomId: string,
  logger: ErrorLogger,
): pb.QueueServiceHandlers {
  const room = new LegacyRoom(service, roomId);
  const m = (name: string): string => `queue.QueueService/${name}`;
  const answer = (message: string, state: RoomState): pb.QueueResponse => ({
    message,
    queue: legacyQueue(state).map(toPb),
  });

  return {
    AddTrack: unary<pb.Track__Output, pb.QueueResponse>(m('AddTrack'), logger, async (req) => {
      // 0 (proto3's default, what the earlier clients send) is a track of unknown length.
      if (!Number.isInteger(req.duration) || req.duration < 0 || req.duration > LEGACY_MAX_DURATION_S) {
        throw chorusError('LEGACY_DURATION_INVALID', { max: LEGACY_MAX_DURATION_S });
      }
      const state = await room.add({
        id: idOf(req.id),
        title: textOf('title', req.title, LIMITS.textMaxLength),
        artist: textOf('artist', req.artist, LIMITS.textMaxLength),
        durationSeconds: req.duration,
      });
      return answer('Track added', state);
    }),

    RemoveTrack: unary<pb.TrackId__Output, pb.QueueResponse>(m('RemoveTrack'), logger, async (req) =>
      answer('Track removed', await room.remove(idOf(req.id))),
    ),

    VoteTrack: unary<pb.VoteRequest__Output, pb.QueueResponse>(m('VoteTrack'), logger, async (req) =>
      answer('Vote updated', await room.vote(idOf(req.id), req.up)),
    ),

    GetQueue: unary<pb.Empty__Output, pb.QueueList>(m('GetQueue'), logger, async () => ({
      queue: legacyQueue(await room.read()).map(toPb),
    })),

    GetMetadata: unary<pb.TrackId__Output, pb.Track>(m('GetMetadata'), logger, async (req) => {
      const id = req.id;
      const found = id && id.length <= LIMITS.textMaxLength ? await room.find(id) : null;
      return found ? toPb(found) : EMPTY_TRACK;
    }),

    PlayNext: unary<pb.Empty__Output, pb.Track>(m('PlayNext'), logger, async () => {
      const playing = await room.playNext();
      return playing ? toPb(playing) : EMPTY_TRACK;
    }),

    GetHistory: unary<pb.Empty__Output, pb.QueueList>(m('GetHistory'), logger, async () => ({
      queue: legacyHistory(await room.read()).map(toPb),
    })),
  };
}
