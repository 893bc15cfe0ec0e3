// JSON Schemas of the REST API v1 (TypeBox): they validate requests, serialise responses and feed
// the OpenAPI document. Request types are derived from them (Static), never written twice; the
// domain's view types are checked against the response schemas at compile time (bottom of file).

import { Type, type Static, type TSchema } from 'typebox';
import {
  DEFAULT_SETTINGS,
  ID_PATTERN,
  LIMITS,
  ROOM_ID_PATTERN,
  SETTING_BOUNDS,
  type HistoryPage,
  type QueueItemView,
  type RoomView,
  type Track,
} from '../../domain/index.ts';
import type { RoomListing } from '../../store/types.ts';
import { PASSCODE_LENGTH } from '../../domain/joining.ts';
import { PAGE_LIMITS, type PageLimit } from '../page-limits.ts';

/** Arrays in answers are readonly: the domain hands out immutable data. */
export const List = <T extends TSchema>(item: T) => Type.Immutable(Type.Array(item));

const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description });
const Name = (description: string) =>
  Type.String({ minLength: 1, maxLength: LIMITS.nameMaxLength, description });
const Text = (max: number, description: string, minLength = 1) =>
  Type.String({ minLength, maxLength: max, description });
const Millis = (description: string) => Type.Integer({ minimum: 0, description });

export const RoomIdParam = Type.String({ pattern: ROOM_ID_PATTERN, description: 'Room id (a slug)' });

export const TrackSchema = Type.Object(
  {
    trackId: Text(LIMITS.textMaxLength, 'Catalog id, or any id the client chooses for its own metadata'),
    title: Text(LIMITS.textMaxLength, 'Title'),
    artist: Text(LIMITS.textMaxLength, 'Artist'),
    album: Text(LIMITS.textMaxLength, 'Album (may be empty)', 0),
    durationMs: Type.Integer({
      minimum: 0,
      maximum: LIMITS.maxDurationMs,
      description: 'Duration in ms; 0 when unknown (it plays until skipped)',
    }),
    artworkUrl: Type.Optional(Text(LIMITS.uriMaxLength, 'Artwork URL')),
    year: Type.Optional(Type.Integer({ minimum: 0, maximum: 9999 })),
    genre: Type.Optional(Text(LIMITS.genreMaxLength, 'Genre', 0)),
    sourceUri: Type.Optional(
      Text(LIMITS.uriMaxLength, "A link of the client's own (never a server path; file: URIs are dropped)"),
    ),
    audioUrl: Type.Optional(
      Text(
        LIMITS.uriMaxLength,
        'Where every node serves the audio: /v1/tracks/{trackId}/audio (music-folder tracks)',
      ),
    ),
  },
  { description: 'Track metadata' },
);

const boundedSetting = (key: keyof typeof SETTING_BOUNDS, description: string) =>
  Type.Integer({
    minimum: SETTING_BOUNDS[key][0],
    maximum: SETTING_BOUNDS[key][1],
    description: `${description} (default ${DEFAULT_SETTINGS[key]})`,
  });

const settingProps = {
  public: Type.Boolean({ description: `Listed in GET /v1/rooms (default ${DEFAULT_SETTINGS.public})` }),
  autoplay: Type.Boolean({
    description: `Start the next track by itself (default ${DEFAULT_SETTINGS.autoplay})`,
  }),
  maxQueueLength: boundedSetting('maxQueueLength', 'Entries waiting in the queue'),
  maxEntriesPerMember: boundedSetting(
    'maxEntriesPerMember',
    'Entries one member may have waiting; 0: no limit',
  ),
  maxTrackDurationMs: boundedSetting('maxTrackDurationMs', 'Longest track allowed, ms'),
  voteOffThreshold: boundedSetting('voteOffThreshold', 'An entry leaves at score -N; 0: never'),
  skipVotes: boundedSetting('skipVotes', 'Downvotes that skip the playing track; 0: never'),
  replayProtectionMinutes: boundedSetting(
    'replayProtectionMinutes',
    'Refuse tracks played this recently; 0: off',
  ),
  historyRetention: boundedSetting('historyRetention', 'History records kept'),
  skipShare: Type.Number({
    minimum: 0,
    maximum: 1,
    description: `Skip (vote off) at this share of the present members, if more than skipVotes (voteOffThreshold) (default ${DEFAULT_SETTINGS.skipShare})`,
  }),
  joinPolicy: Type.Union([Type.Literal('open'), Type.Literal('passcode'), Type.Literal('approval')], {
    description: `Who may join: anyone with the id, with the passcode, or whom the host admits (default ${DEFAULT_SETTINGS.joinPolicy})`,
  }),
  maxMembers: boundedSetting('maxMembers', 'Members the room takes, the host included; 0: no limit'),
  joinsPerMinute: boundedSetting(
    'joinsPerMinute',
    'Joins the room takes a minute, from everyone; 0: no limit',
  ),
};

const Passcode = Type.String({
  minLength: PASSCODE_LENGTH.min,
  maxLength: PASSCODE_LENGTH.max,
  description: 'The room passcode (joinPolicy passcode); stored hashed',
});

export const SettingsSchema = Type.Object(settingProps);

export const SettingsPatchSchema = Type.Partial(Type.Object(settingProps, { additionalProperties: false }), {
  additionalProperties: false,
  description: 'Any subset of the room settings',
});

/** PATCH /settings: any subset of the settings, and the passcode (null removes it). */
export const SettingsPatchBody = Type.Partial(
  Type.Object(
    { ...settingProps, passcode: Type.Union([Passcode, Type.Null()]) },
    { additionalProperties: false },
  ),
  { additionalProperties: false, description: 'Any subset of the room settings, and the passcode' },
);

const MemberRefSchema = Type.Object({ memberId: Type.String(), name: Type.String() });
const Vote = Type.Union([Type.Literal(1), Type.Literal(-1), Type.Literal(0)]);

export const QueueItemSchema = Type.Object({
  position: Type.Integer({ description: '1-based place in the queue' }),
  entryId: Type.String(),
  track: TrackSchema,
  addedBy: MemberRefSchema,
  addedAt: Millis('When it was added (ms since epoch)'),
  seq: Type.Integer({ description: 'Insertion sequence: the tie-breaker of the order' }),
  score: Type.Integer({ description: 'ups - downs: the order is score descending, then seq ascending' }),
  ups: Type.Integer(),
  downs: Type.Integer(),
  etaMs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description:
      'Time until it starts: what is left of the playing track plus the durations ahead; null when one of them is of unknown length',
  }),
  myVote: Vote,
});

const NowPlayingSchema = Type.Object({
  entryId: Type.String(),
  track: TrackSchema,
  addedBy: MemberRefSchema,
  startedAt: Millis(
    'Where its timeline starts (ms since epoch): it is at now - startedAt while playing; a resume moves it on by the pause',
  ),
  paused: Type.Boolean({ description: 'Paused by the host: the position holds still' }),
  positionMs: Millis('How far it has played'),
  remainingMs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: 'How long it has left; null when its length is unknown',
  }),
  score: Type.Integer(),
  ups: Type.Integer(),
  downs: Type.Integer(),
  myVote: Vote,
});

const Role = Type.Union([Type.Literal('host'), Type.Literal('cohost'), Type.Literal('member')]);

const MemberSchema = Type.Object({
  memberId: Type.String(),
  name: Type.String(),
  isHost: Type.Boolean(),
  role: Role,
  joinedAt: Millis('Join time'),
});

export const RoomViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  hostId: Type.String(),
  createdAt: Millis('Creation time'),
  settings: SettingsSchema,
  locked: Type.Boolean(),
  version: Type.Integer({
    description: 'Count of applied commands; pass as minVersion to read your writes',
  }),
  memberCount: Type.Integer(),
  queueLength: Type.Integer(),
  playCount: Type.Integer(),
  nowPlaying: Type.Union([NowPlayingSchema, Type.Null()]),
  queue: List(QueueItemSchema),
  queueOffset: Type.Integer(),
  me: Type.Union([MemberSchema, Type.Null()]),
  invite: Type.Optional(
    Type.String({ description: "A private room's invite secret: shown to its host and co-hosts only" }),
  ),
  present: List(MemberRefSchema),
  presentCount: Type.Integer(),
  joinPending: Type.Boolean({ description: "The viewer's join request waits for the host" }),
  pendingJoins: List(MemberRefSchema),
});

// ---- Hosts, co-hosts, removal, recovery, invites ---------------------------------------------------

const InviteField = Type.String({
  maxLength: 128,
  description: "A private room's invite secret (from its link); not needed with a member token",
});
export const MembersSchema = Type.Object({
  members: List(
    Type.Object({ memberId: Type.String(), name: Type.String(), role: Role, joinedAt: Millis('Join time') }),
  ),
  banned: List(Type.Object({ memberId: Type.String(), name: Type.String(), at: Millis('Ban time') })),
  version: Type.Integer(),
});
export const RoleBody = Type.Object({ role: Type.Union([Type.Literal('cohost'), Type.Literal('member')]) });
export const HandOverBody = Type.Object({ memberId: Id('The member who becomes the host') });
export const RemoveMemberQuery = Type.Object({
  ban: Type.Optional(Type.Boolean({ default: false, description: 'Also ban them' })),
  removeEntries: Type.Optional(
    Type.Boolean({ default: false, description: 'Also remove their waiting entries' }),
  ),
});
export const RemovedSchema = Type.Object({
  memberId: Type.String(),
  banned: Type.Boolean(),
  removedEntries: Type.Integer(),
  version: Type.Integer(),
});
export const RecoverBody = Type.Object({
  recoveryKey: Text(128, 'The recovery key CreateRoom returned'),
});
export const InviteSchema = Type.Object({ invite: Type.String(), version: Type.Integer() });
export const RecoveryKeySchema = Type.Object({
  recoveryKey: Type.String({
    description: 'Shown this once: POST /v1/rooms/:id/recover with it makes you the host again',
  }),
  version: Type.Integer(),
});
export const MemberParams = Type.Object({ roomId: RoomIdParam, memberId: Id('Member id') });
export const InviteQuery = Type.Object({ invite: Type.Optional(InviteField) });

const HistoryRecordSchema = Type.Object({
  playNo: Type.Integer(),
  entryId: Type.String(),
  track: TrackSchema,
  addedBy: MemberRefSchema,
  startedAt: Millis('Start time'),
  endedAt: Millis('End time'),
  reason: Type.Union([Type.Literal('finished'), Type.Literal('skipped'), Type.Literal('votedOff')]),
  ups: Type.Integer(),
  downs: Type.Integer(),
});

export const HistoryPageSchema = Type.Object({
  records: List(HistoryRecordSchema),
  nextBefore: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Pass as `before` for older records',
  }),
  version: Type.Integer(),
});

export const RoomListingSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Millis('Creation time'),
  memberCount: Type.Integer(),
  queueLength: Type.Integer(),
  nowPlaying: Type.Union([Type.String(), Type.Null()]),
  version: Type.Integer(),
});

export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
});

// ---- Requests ------------------------------------------------------------------------------------

export const CreateRoomBody = Type.Object({
  name: Name('Room name'),
  hostName: Name("The host's display name"),
  roomId: Type.Optional(
    Type.String({ pattern: ROOM_ID_PATTERN, description: 'Choose the id; default: from the name' }),
  ),
  settings: Type.Optional(SettingsPatchSchema),
  passcode: Type.Optional(Passcode),
});
export type CreateRoomBody = Static<typeof CreateRoomBody>;

export const JoinBody = Type.Object({
  name: Name('Display name'),
  invite: Type.Optional(InviteField),
  clientKey: Type.Optional(
    Text(128, 'A random key this browser or CLI keeps: a ban refuses joins that send it again', 16),
  ),
  passcode: Type.Optional(Passcode),
});
export const JoinDecisionBody = Type.Object({ approve: Type.Boolean() });
export const JoinRequestParams = Type.Object({
  roomId: RoomIdParam,
  memberId: Id('The member whose join request waits'),
});

export const AddTrackBody = Type.Union(
  [
    Type.Object(
      { trackId: Text(LIMITS.textMaxLength, 'A catalog track id') },
      { additionalProperties: false },
    ),
    Type.Object({ track: TrackSchema }, { additionalProperties: false }),
  ],
  { description: 'Either a catalog track id, or the metadata of a track of your own' },
);
export type AddTrackBody = Static<typeof AddTrackBody>;

export const VoteBody = Type.Object({ value: Vote });
export const SkipBody = Type.Object({
  expectedEntryId: Type.Optional(
    Type.Union([Id('Skip only if this entry is still playing (null: start when idle)'), Type.Null()]),
  ),
});
export const LockBody = Type.Object({ locked: Type.Boolean() });
export const EndedBody = Type.Object({ entryId: Id('The entry the device played to its end') });

export const RoomParams = Type.Object({ roomId: RoomIdParam });
export const EntryParams = Type.Object({ roomId: RoomIdParam, entryId: Id('Queue entry id') });

export const MinVersionQuery = Type.Integer({
  minimum: 0,
  description: 'Answer only once this node has applied at least this version (read your writes)',
});
/** A `limit` query parameter by the page-size table both APIs share. */
function PageLimitQuery(limit: PageLimit, description?: string) {
  return Type.Integer({
    minimum: limit.min,
    maximum: limit.max,
    default: limit.fallback,
    ...(description ? { description } : {}),
  });
}

export const RoomQuery = Type.Object({
  minVersion: Type.Optional(MinVersionQuery),
  consistency: Type.Optional(
    Type.Union([Type.Literal('local'), Type.Literal('linearizable')], {
      description:
        'local (default): this node as applied; linearizable: every write acknowledged before the read (Raft: ReadIndex)',
    }),
  ),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Queue entries to skip' })),
  limit: Type.Optional(PageLimitQuery(PAGE_LIMITS.queue, 'Queue entries to show')),
  invite: Type.Optional(InviteField),
});
export const HistoryQuery = Type.Object({
  before: Type.Optional(Type.Integer({ minimum: 1, description: 'Only plays older than this playNo' })),
  limit: Type.Optional(PageLimitQuery(PAGE_LIMITS.history)),
  minVersion: Type.Optional(MinVersionQuery),
  invite: Type.Optional(InviteField),
});
export const ListQuery = Type.Object({
  limit: Type.Optional(PageLimitQuery(PAGE_LIMITS.rooms)),
});
export const SearchQuery = Type.Object({
  q: Type.Optional(
    Type.String({ maxLength: 200, default: '', description: 'Words to find in title, artist, album' }),
  ),
  limit: Type.Optional(PageLimitQuery(PAGE_LIMITS.search)),
});
export const TrackParams = Type.Object({ trackId: Text(LIMITS.textMaxLength, 'Catalog track id') });
export const EventsQuery = Type.Object({
  after: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Resume after this version (like Last-Event-ID)' }),
  ),
  invite: Type.Optional(InviteField),
  token: Type.Optional(
    Type.String({
      maxLength: 1024,
      description:
        'Your member token (a browser EventSource cannot send headers): you count as present while the stream is open',
    }),
  ),
});

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Id('A retry with the same key returns the first answer and changes nothing'),
  ),
});

// ---- Compile-time agreement between the domain's views and the response schemas -----------------

type Assert<T extends true> = T;
type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
/** The domain may hand out readonly data; what matters is that its shape fits the schema. */
type Assignable<A, B> = [A] extends [DeepReadonly<B>] ? true : false;
export type _RoomViewMatches = Assert<Assignable<RoomView, Static<typeof RoomViewSchema>>>;
export type _QueueItemMatches = Assert<Assignable<QueueItemView, Static<typeof QueueItemSchema>>>;
export type _TrackMatches = Assert<Assignable<Track, Static<typeof TrackSchema>>>;
export type _HistoryMatches = Assert<
  Assignable<HistoryPage & { version: number }, Static<typeof HistoryPageSchema>>
>;
export type _ListingMatches = Assert<Assignable<RoomListing, Static<typeof RoomListingSchema>>>;
