// The one registry of error reasons, as fastify's lib/errors.js: every refusal Chorus gives is
// declared here once, with its code (errors.ts), its message template and the details it carries.
// The domain, the stores, the services and the APIs build errors only through `refusal` and
// `chorusError`, so a reason reads the same whichever layer or store gives it, and a client can
// tell reasons apart by `details.reason` on the wire (errors.ts `wireError`).
//
// Invariants: a reason's name is its key; templates are pure (no clock, no I/O); the README's
// error section lists every reason (test/unit/domain/reasons.test.ts checks it).

import { ChorusError, type ErrorCode, type ErrorDetails, type ErrorInfo } from './errors.ts';

interface ReasonSpec<A> {
  readonly code: ErrorCode;
  readonly message: (args: A) => string;
  /** What the error carries besides its reason; none when absent. */
  readonly details?: (args: A) => ErrorDetails;
}

// Pure: a bundle (the web page) that imports a module beside this one without its errors drops it.
/* @__NO_SIDE_EFFECTS__ */
function reason<A = void>(
  code: ErrorCode,
  message: (args: A) => string,
  details?: (args: A) => ErrorDetails,
): ReasonSpec<A> {
  return details ? { code, message, details } : { code, message };
}

/** `{ field }`: the request field at fault. */
const field = ({ field }: { field: string }): ErrorDetails => ({ field });

/** "20 min", "3 min 30 s": a limit as people read it. */
function formatMinutes(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1000);
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

/** "100 a second", or for slow rates "10 a minute" (never "0.1666… a second"). */
function formatRate(perSecond: number): string {
  if (perSecond >= 1) return `${Math.round(perSecond * 100) / 100} a second`;
  return `${Math.round(perSecond * 60 * 100) / 100} a minute`;
}

/**
 * A 2PC write that failed: the protocol's cause (a participant's NO reason, the vote deadline, …;
 * the `chorus_2pc_aborts_total` label), the room, the nodes at fault and the attempts made.
 */
interface TwoPcFailure {
  readonly cause: string;
  readonly room: string;
  readonly nodes: readonly string[];
  readonly attempts: number;
}

const twoPcDetails = (a: TwoPcFailure): ErrorDetails => ({
  cause: a.cause,
  room: a.room,
  nodes: [...a.nodes],
  attempts: a.attempts,
});

/** "n2, n3", or "a node" when none is named. */
const who = (nodes: readonly string[]): string => (nodes.length > 0 ? nodes.join(', ') : 'a node');

export const REASONS = {
  // ---- Requests: shapes and fields ------------------------------------------------------------
  REQUEST_INVALID: reason('INVALID_ARGUMENT', () => 'invalid request'),
  VALIDATION_FAILED: reason(
    'INVALID_ARGUMENT',
    (a: { path: string; problem: string; validation: unknown }) => `${a.path} ${a.problem}`,
    (a) => ({ validation: a.validation }),
  ),
  FIELD_INVALID: reason(
    'INVALID_ARGUMENT',
    (a: { field: string; problem: string }) => `${a.field} ${a.problem}`,
    field,
  ),
  BODY_TOO_LARGE: reason('INVALID_ARGUMENT', () => 'the request body is too large'),
  BODY_NOT_JSON_TYPE: reason(
    'INVALID_ARGUMENT',
    () => 'send the body as JSON, with Content-Type: application/json',
  ),
  BODY_EMPTY: reason('INVALID_ARGUMENT', () => 'the JSON body is empty'),
  BODY_INVALID: reason('INVALID_ARGUMENT', (a: { problem: string }) => `the body is not valid: ${a.problem}`),
  BODY_NOT_JSON: reason(
    'INVALID_ARGUMENT',
    (a: { problem: string }) => `the body is not valid JSON: ${a.problem}`,
  ),
  REQUEST_REFUSED: reason('INVALID_ARGUMENT', (a: { problem: string }) => a.problem),
  REQUEST_NOT_FOUND: reason('NOT_FOUND', (a: { problem: string }) => a.problem),
  REQUEST_TOO_MANY: reason('RESOURCE_EXHAUSTED', (a: { problem: string }) => a.problem),
  TEXT_LONE_SURROGATE: reason(
    'INVALID_ARGUMENT',
    (a: { field: string }) => `${a.field} is not valid Unicode text (it holds a lone surrogate)`,
    field,
  ),
  MESSAGE_MALFORMED: reason(
    'INVALID_ARGUMENT',
    (a: { method: string; problem: string }) =>
      `the request is not a valid ${a.method} message: ${a.problem}`,
  ),
  ROOM_ID_INVALID: reason(
    'INVALID_ARGUMENT',
    () => 'room id must be 1-64 lower-case letters, digits or dashes, not starting or ending with a dash',
    () => ({ field: 'roomId' }),
  ),
  ID_INVALID: reason(
    'INVALID_ARGUMENT',
    (a: { field: string }) => `${a.field} must be 1-128 characters of letters, digits and _.:~-`,
    field,
  ),
  TEXT_NOT_STRING: reason('INVALID_ARGUMENT', (a: { field: string }) => `${a.field} must be a string`, field),
  TEXT_EMPTY: reason('INVALID_ARGUMENT', (a: { field: string }) => `${a.field} must not be empty`, field),
  TEXT_TOO_LONG: reason(
    'INVALID_ARGUMENT',
    (a: { field: string; max: number }) => `${a.field} must be at most ${a.max} characters`,
    field,
  ),
  TEXT_CONTROL_CHARACTERS: reason(
    'INVALID_ARGUMENT',
    (a: { field: string }) => `${a.field} must not contain control characters`,
    field,
  ),
  NUMBER_OUT_OF_RANGE: reason(
    'INVALID_ARGUMENT',
    (a: { field: string; min: number; max: number }) =>
      `${a.field} must be a whole number from ${a.min} to ${a.max}`,
    field,
  ),
  TRACK_NOT_OBJECT: reason(
    'INVALID_ARGUMENT',
    () => 'track must be an object',
    () => ({ field: 'track' }),
  ),
  TRACK_AUDIO_URL_INVALID: reason(
    'INVALID_ARGUMENT',
    () => 'track.audioUrl must be /v1/tracks/{trackId}/audio of the track',
    () => ({ field: 'track.audioUrl' }),
  ),
  TRACK_UNSPECIFIED: reason(
    'INVALID_ARGUMENT',
    () => 'say which track: set track_id (catalog) or track (your own)',
    () => ({ field: 'source' }),
  ),
  VOTE_DIRECTION_INVALID: reason(
    'INVALID_ARGUMENT',
    () => 'direction must be VOTE_DIRECTION_UP, _DOWN or _WITHDRAW',
    () => ({ field: 'direction' }),
  ),
  CONSISTENCY_INVALID: reason(
    'INVALID_ARGUMENT',
    () => 'consistency must be "local" or "linearizable"',
    () => ({ field: 'consistency' }),
  ),
  LEGACY_DURATION_INVALID: reason(
    'INVALID_ARGUMENT',
    (a: { max: number }) => `duration must be 0 (unknown) to ${a.max} seconds`,
    () => ({ field: 'duration' }),
  ),
  LEGACY_QUEUE_EMPTY: reason('INVALID_ARGUMENT', () => 'Queue empty'),

  // ---- Settings -------------------------------------------------------------------------------
  SETTINGS_NOT_OBJECT: reason('INVALID_ARGUMENT', () => 'settings must be an object'),
  SETTING_OUT_OF_RANGE: reason(
    'INVALID_ARGUMENT',
    (a: { setting: string; min: number; max: number }) =>
      `setting ${a.setting} must be a whole number from ${a.min} to ${a.max}`,
    ({ setting, min, max }) => ({ setting, min, max }),
  ),
  SETTING_NOT_BOOLEAN: reason(
    'INVALID_ARGUMENT',
    (a: { setting: string }) => `setting ${a.setting} must be true or false`,
    ({ setting }) => ({ setting }),
  ),
  SETTING_NOT_SHARE: reason(
    'INVALID_ARGUMENT',
    (a: { setting: string }) => `setting ${a.setting} must be a share from 0 to 1 (0.5: half)`,
    ({ setting }) => ({ setting }),
  ),
  SETTING_NOT_ONE_OF: reason(
    'INVALID_ARGUMENT',
    (a: { setting: string; allowed: readonly string[] }) =>
      `setting ${a.setting} must be one of ${[...a.allowed].join(', ')}`,
    ({ setting, allowed }) => ({ setting, allowed }),
  ),
  SETTING_UNKNOWN: reason(
    'INVALID_ARGUMENT',
    (a: { setting: string; known: readonly string[] }) => `unknown setting ${a.setting}`,
    ({ setting, known }) => ({ setting, known }),
  ),

  // ---- Commands (the state machine) -----------------------------------------------------------
  ENVELOPE_NOT_OBJECT: reason('INVALID_ARGUMENT', () => 'command envelope must be an object'),
  COMMAND_NOT_OBJECT: reason('INVALID_ARGUMENT', () => 'command must be an object'),
  COMMAND_TIME_INVALID: reason('INVALID_ARGUMENT', () => 'command time must be a whole number of ms'),
  COMMAND_UNKNOWN: reason(
    'INVALID_ARGUMENT',
    (a: { type: unknown }) => `unknown command type ${String(a.type)}`,
  ),
  COMMAND_ID_REUSED: reason(
    'INVALID_ARGUMENT',
    (a: { commandId: string; usedFor: string }) =>
      `command id ${a.commandId} was already used for a different request`,
    ({ commandId, usedFor }) => ({ commandId, usedFor }),
  ),
  COMMAND_WRONG_ROOM: reason(
    'INTERNAL',
    (a: { roomId: string; appliedTo: string }) =>
      `command for room ${a.roomId} applied to room ${a.appliedTo}`,
  ),
  CREATE_NEEDS_HOST: reason('INVALID_ARGUMENT', () => 'createRoom needs the new host id as actor'),
  COMMAND_NOT_SERIALISABLE: reason(
    'INVALID_ARGUMENT',
    (a: { problem: string }) => `the command cannot be serialised: ${a.problem}`,
  ),
  COMMAND_EMPTY: reason('INVALID_ARGUMENT', () => 'the command is empty'),
  COMMAND_TOO_LARGE: reason(
    'INVALID_ARGUMENT',
    (a: { bytes: number; maxBytes: number }) => `the command is too large (${a.bytes} bytes)`,
    ({ maxBytes }) => ({ maxBytes }),
  ),
  APPLY_FAILED: reason('INTERNAL', () => 'the command could not be applied'),

  // ---- Rooms and members ----------------------------------------------------------------------
  ROOM_NOT_FOUND: reason(
    'NOT_FOUND',
    (a: { roomId: unknown }) => `room ${String(a.roomId)} does not exist`,
    ({ roomId }) => ({ roomId }),
  ),
  ROOM_EXISTS: reason(
    'ALREADY_EXISTS',
    (a: { roomId: string }) => `room ${a.roomId} already exists`,
    ({ roomId }) => ({ roomId }),
  ),
  MEMBER_ID_RESERVED: reason(
    'INVALID_ARGUMENT',
    (a: { prefix: string }) => `member ids starting with ${a.prefix} are reserved for anonymous votes`,
    () => ({ field: 'memberId' }),
  ),
  MEMBER_EXISTS: reason(
    'ALREADY_EXISTS',
    (a: { memberId: string }) => `member ${a.memberId} already joined`,
    ({ memberId }) => ({ memberId }),
  ),
  MEMBER_TOKEN_MISSING: reason(
    'UNAUTHENTICATED',
    () => 'this action needs a member token; join the room first',
  ),
  NOT_A_MEMBER: reason(
    'PERMISSION_DENIED',
    (a: { roomId: string }) => `you are not a member of room ${a.roomId}; join it first`,
    ({ roomId }) => ({ roomId }),
  ),
  HOST_ONLY: reason('PERMISSION_DENIED', (a: { action: string }) => `only the host can ${a.action}`),
  TOKEN_MISSING: reason(
    'UNAUTHENTICATED',
    () => 'this action needs a bearer token; join the room to get one',
  ),
  TOKEN_INVALID: reason('UNAUTHENTICATED', () => 'the bearer token is not valid; join the room again'),
  TOKEN_OTHER_ROOM: reason(
    'PERMISSION_DENIED',
    (a: { tokenRoom: string; roomId: string }) => `this token is for room ${a.tokenRoom}, not ${a.roomId}`,
  ),
  // ---- Joining (joining.ts) and presence (presence.ts) ------------------------------------------
  PASSCODE_REQUIRED: reason('PERMISSION_DENIED', () => 'this room needs its passcode to join'),
  PASSCODE_WRONG: reason('PERMISSION_DENIED', () => 'the passcode is not right'),
  PASSCODE_NOT_SET: reason(
    'FAILED_PRECONDITION',
    () => 'set a passcode (settings passcode) before making the room join by passcode',
  ),
  PASSCODE_INVALID: reason(
    'INVALID_ARGUMENT',
    (a: { min: number; max: number }) => `a passcode is ${a.min} to ${a.max} characters`,
    () => ({ field: 'passcode' }),
  ),
  ROOM_FULL: reason(
    'FAILED_PRECONDITION',
    (a: { maxMembers: number }) => `the room is full (${a.maxMembers} members)`,
    ({ maxMembers }) => ({ maxMembers }),
  ),
  ROOM_JOINS_TOO_FAST: reason(
    'RESOURCE_EXHAUSTED',
    (a: { joinsPerMinute: number; retryAfterMs: number }) =>
      `this room takes at most ${a.joinsPerMinute} joins a minute; try again in ${a.retryAfterMs} ms`,
    ({ retryAfterMs }) => ({ retryAfterMs }),
  ),
  JOIN_REQUESTS_FULL: reason(
    'RESOURCE_EXHAUSTED',
    (a: { max: number }) => `${a.max} join requests already wait for the host; try again later`,
    ({ max }) => ({ max }),
  ),
  JOIN_REQUEST_NOT_FOUND: reason(
    'NOT_FOUND',
    (a: { memberId: string }) => `no join request of ${a.memberId} is waiting`,
    ({ memberId }) => ({ memberId }),
  ),
  JOIN_DECISION_INVALID: reason('INVALID_ARGUMENT', () => 'approve must be true or false'),
  JOIN_PENDING: reason(
    'PERMISSION_DENIED',
    () => 'your join request waits for the host; you can act once they admit you',
  ),
  PRESENCE_SYSTEM_ONLY: reason('PERMISSION_DENIED', () => 'only nodes report presence'),
  PRESENCE_RESET_INVALID: reason('INVALID_ARGUMENT', () => 'reset must be true or false'),
  PRESENCE_IDS_INVALID: reason(
    'INVALID_ARGUMENT',
    (a: { field: string; max: number }) => `${a.field} must be a list of at most ${a.max} member ids`,
    field,
  ),
  LOCKED_INVALID: reason('INVALID_ARGUMENT', () => 'locked must be true or false'),
  // ---- Hosts, co-hosts, removal and bans (access.ts) -----------------------------------------
  MEMBER_NOT_FOUND: reason(
    'NOT_FOUND',
    (a: { memberId: string }) => `no member ${a.memberId} in this room`,
    ({ memberId }) => ({ memberId }),
  ),
  ROLE_OF_HOST: reason('FAILED_PRECONDITION', () => 'the host’s role changes only by handing the room over'),
  REMOVE_MEMBER_NOT_ALLOWED: reason('PERMISSION_DENIED', (a: { why: string }) => a.why),
  RECOVERY_KEY_WRONG: reason('PERMISSION_DENIED', () => 'this is not the room’s recovery key'),
  MEMBER_BANNED: reason(
    'PERMISSION_DENIED',
    (a: { roomId: string }) => `you are banned from room ${a.roomId}`,
    ({ roomId }) => ({ roomId }),
  ),

  // ---- The queue ------------------------------------------------------------------------------
  QUEUE_LOCKED: reason('FAILED_PRECONDITION', () => 'the host has locked the queue'),
  QUEUE_FULL: reason(
    'FAILED_PRECONDITION',
    (a: { maxQueueLength: number }) => `the queue is full (${a.maxQueueLength} entries)`,
    ({ maxQueueLength }) => ({ maxQueueLength }),
  ),
  MEMBER_QUOTA: reason(
    'FAILED_PRECONDITION',
    (a: { waiting: number; maxEntriesPerMember: number }) =>
      `you already have ${a.waiting} tracks waiting; the room allows ${a.maxEntriesPerMember} per member`,
    ({ maxEntriesPerMember }) => ({ maxEntriesPerMember }),
  ),
  TRACK_TOO_LONG: reason(
    'FAILED_PRECONDITION',
    (a: { durationMs: number; maxTrackDurationMs: number }) =>
      `this track is longer than the room allows (${formatMinutes(a.maxTrackDurationMs)})`,
    ({ durationMs, maxTrackDurationMs }) => ({ durationMs, maxTrackDurationMs }),
  ),
  TRACK_ALREADY_QUEUED: reason(
    'ALREADY_EXISTS',
    (a: { title: string; where: string; existing: unknown }) =>
      a.where === 'queue' ? `"${a.title}" is already in the queue` : `"${a.title}" is playing right now`,
    ({ existing, where }) => ({ existing, where }),
  ),
  REPLAY_PROTECTED: reason(
    'FAILED_PRECONDITION',
    (a: { title: string; replayProtectionMinutes: number; lastEndedAt: number }) =>
      `"${a.title}" was played less than ${a.replayProtectionMinutes} minutes ago`,
    ({ replayProtectionMinutes, lastEndedAt }) => ({ replayProtectionMinutes, lastEndedAt }),
  ),
  ENTRY_ID_IN_USE: reason(
    'ALREADY_EXISTS',
    (a: { entryId: string }) => `entry id ${a.entryId} is already in use`,
    ({ entryId }) => ({ entryId }),
  ),
  ENTRY_NOT_FOUND: reason(
    'NOT_FOUND',
    (a: { entryId: unknown }) => `no entry ${String(a.entryId)} in the queue`,
    ({ entryId }) => ({ entryId }),
  ),
  TRACK_NOT_QUEUED: reason(
    'NOT_FOUND',
    (a: { trackId: string }) => `track ${a.trackId} is not in the queue`,
    ({ trackId }) => ({ trackId }),
  ),
  ENTRY_PLAYING: reason('FAILED_PRECONDITION', () => 'this entry is playing; the host can skip it instead'),
  REMOVE_NOT_ALLOWED: reason(
    'PERMISSION_DENIED',
    () => 'only the member who added an entry, or the host, can remove it',
  ),
  VOTE_INVALID: reason(
    'INVALID_ARGUMENT',
    () => 'a vote is 1 (up), -1 (down) or 0 (withdraw)',
    () => ({ field: 'value' }),
  ),
  ANONYMOUS_VOTE_INVALID: reason(
    'INVALID_ARGUMENT',
    () => 'an anonymous vote is 1 (up) or -1 (down)',
    () => ({ field: 'value' }),
  ),
  ENTRIES_NOT_LIST: reason('INVALID_ARGUMENT', () => 'entries must be a list'),
  ENTRIES_ITEM_NOT_OBJECT: reason(
    'INVALID_ARGUMENT',
    (a: { index: number }) => `entries[${a.index}] must be an object`,
  ),
  ENTRIES_VOTES_INVALID: reason(
    'INVALID_ARGUMENT',
    (a: { index: number }) => `entries[${a.index}].votes must be a whole number`,
    () => ({ field: 'votes' }),
  ),
  ENTRIES_TRACK_TOO_LONG: reason(
    'FAILED_PRECONDITION',
    (a: { index: number; durationMs: number; maxTrackDurationMs: number }) =>
      `entries[${a.index}] is longer than the room allows`,
    ({ durationMs, maxTrackDurationMs }) => ({ durationMs, maxTrackDurationMs }),
  ),
  ENTRIES_ID_TWICE: reason(
    'ALREADY_EXISTS',
    (a: { entryId: string }) => `entry id ${a.entryId} is given twice`,
    ({ entryId }) => ({ entryId }),
  ),
  QUEUE_KEPT_CHANGING: reason('ABORTED', () => 'the queue kept changing; try again'),

  // ---- Playback -------------------------------------------------------------------------------
  ADVANCE_REASON_INVALID: reason(
    'INVALID_ARGUMENT',
    () => "advance reason must be 'finished', 'skipped' or 'ended'",
    () => ({ field: 'reason' }),
  ),
  REQUIRE_NEXT_INVALID: reason(
    'INVALID_ARGUMENT',
    () => 'requireNext must be true or false',
    () => ({ field: 'requireNext' }),
  ),
  AUTOPLAY_OFF: reason('FAILED_PRECONDITION', () => 'autoplay is off; the host starts playback'),
  TRACK_PAUSED: reason('FAILED_PRECONDITION', () => 'the track is paused'),
  TRACK_LENGTH_UNKNOWN: reason(
    'FAILED_PRECONDITION',
    () => 'the track is of unknown length; it ends when the host skips it',
    () => ({ durationMs: 0 }),
  ),
  TRACK_STILL_PLAYING: reason(
    'FAILED_PRECONDITION',
    (a: { remainingMs: number }) => `the track is still playing (${a.remainingMs} ms left)`,
    ({ remainingMs }) => ({ remainingMs }),
  ),
  NOTHING_PLAYING: reason('FAILED_PRECONDITION', () => 'nothing is playing'),

  // ---- Catalog and audio ----------------------------------------------------------------------
  CATALOG_TRACK_NOT_FOUND: reason(
    'NOT_FOUND',
    (a: { trackId: string }) => `no track ${a.trackId} in the catalog`,
    ({ trackId }) => ({ trackId }),
  ),
  AUDIO_NOT_HERE: reason(
    'NOT_FOUND',
    (a: { trackId: string; why: string }) => `this node has no audio for track ${a.trackId}: ${a.why}`,
    ({ trackId }) => ({ trackId }),
  ),
  ROUTE_NOT_FOUND: reason(
    'NOT_FOUND',
    (a: { method: string; path: string }) => `no route ${a.method} ${a.path}`,
  ),
  GRPC_SERVICE_UNKNOWN: reason('NOT_FOUND', (a: { service: string }) => `unknown service "${a.service}"`),

  // ---- Rooms snapshots ------------------------------------------------------------------------
  SNAPSHOT_NOT_OBJECT: reason('INVALID_ARGUMENT', () => 'a room snapshot must be an object'),
  SNAPSHOT_FORMAT_UNKNOWN: reason(
    'INVALID_ARGUMENT',
    (a: { format: unknown; expected: string }) => `unknown room snapshot format ${String(a.format)}`,
    ({ expected }) => ({ expected }),
  ),
  SNAPSHOT_NO_STATE: reason('INVALID_ARGUMENT', () => 'a room snapshot has no room state'),

  // ---- Limits ---------------------------------------------------------------------------------
  RATE_LIMITED: reason(
    'RESOURCE_EXHAUSTED',
    (a: { what: string; rate: number; burst: number; retryAfterMs: number }) =>
      `too many ${a.what}: at most ${formatRate(a.rate)} (${a.burst} at once); try again in ${a.retryAfterMs} ms`,
    ({ retryAfterMs }) => ({ retryAfterMs }),
  ),
  STREAMS_FULL: reason(
    'RESOURCE_EXHAUSTED',
    (a: { maxStreams: number }) =>
      `this node serves ${a.maxStreams} live streams already; try again later or another node`,
    ({ maxStreams }) => ({ maxStreams }),
  ),
  CONNECTIONS_PER_ADDRESS: reason(
    'RESOURCE_EXHAUSTED',
    () => 'too many open connections from your address; close some and try again',
  ),
  CROSS_SITE_WRITE: reason(
    'PERMISSION_DENIED',
    () => 'cross-site request refused: the legacy API takes writes from scripts or this node’s own pages',
  ),

  // ---- Deadlines and streams ------------------------------------------------------------------
  VERSION_TIMEOUT: reason(
    'DEADLINE_EXCEEDED',
    (a: { roomId: string; version: number; minVersion: number; timeoutMs: number }) =>
      `room ${a.roomId} is at version ${a.version} here; version ${a.minVersion} did not arrive within ${a.timeoutMs} ms`,
    ({ version, minVersion }) => ({ version, minVersion }),
  ),
  DEADLINE_BEFORE_START: reason('DEADLINE_EXCEEDED', () => 'the deadline passed before the call started'),
  DEADLINE_BEFORE_ANSWER: reason(
    'DEADLINE_EXCEEDED',
    () =>
      'the deadline passed before the answer; a write may still take effect (retry with the same idempotency-key)',
  ),
  NODE_STOPPING: reason('UNAVAILABLE', () => 'this node is stopping; watch again with after_version'),
  WATCHER_BEHIND: reason(
    'UNAVAILABLE',
    (a: { version: number }) => `this watcher fell behind; watch again with after_version=${a.version}`,
  ),

  // ---- Stores ---------------------------------------------------------------------------------
  STORE_CLOSED: reason(
    'UNAVAILABLE',
    (a: { store: string; state: 'not started' | 'closed'; details: ErrorDetails }) =>
      `the ${a.store} is ${a.state}`,
    ({ details }) => ({ ...details }),
  ),
  STORE_CLOSED_BEFORE_APPLY: reason(
    'UNAVAILABLE',
    () =>
      'the store closed before this node saw the command applied; retry with the same commandId on another node',
  ),
  STORE_OPTION_INVALID: reason(
    'INVALID_ARGUMENT',
    (a: { store: string; problem: string; option: string }) => `${a.store}: ${a.problem}`,
    ({ option }) => ({ option }),
  ),
  STORE_NO_GROUP: reason(
    'FAILED_PRECONDITION',
    (a: { store: string }) => `the ${a.store} store has no group of nodes`,
    ({ store }) => ({ store }),
  ),
  ROOM_UNLOADED: reason(
    'UNAVAILABLE',
    (a: { roomId: string }) => `room ${a.roomId} was unloaded from this node`,
  ),
  LOG_BROKEN: reason(
    'INTERNAL',
    (a: { problem: string; roomId: string }) => a.problem,
    ({ roomId }) => ({ roomId }),
  ),
  LOG_WRITE_FAILED: reason(
    'UNAVAILABLE',
    (a: { dataDir: string; problem: string }) =>
      `the memory store at ${a.dataDir} cannot write its log (${a.problem}); ` +
      'free space (or make the disk writable) and restart the node',
    ({ dataDir }) => ({ dataDir }),
  ),
  DATA_DIR_LOCK_CONTENDED: reason(
    'FAILED_PRECONDITION',
    (a: { file: string; dataDir: string }) => `could not take the lock ${a.file}: it keeps changing hands`,
    ({ dataDir }) => ({ dataDir }),
  ),
  DATA_DIR_IN_USE: reason(
    'FAILED_PRECONDITION',
    (a: { dataDir: string; file: string; where: string; extra: string; pid: number; host: string }) =>
      `data dir ${a.dataDir} is in use by ${a.where}${a.extra}; stop it or choose another data dir ` +
      `(if that process is not a Chorus node, delete ${a.file})`,
    ({ dataDir, pid, host }) => ({ dataDir, pid, host }),
  ),
  REDIS_UNREACHABLE: reason(
    'UNAVAILABLE',
    (a: { where: string; why: string; what: string }) =>
      `Redis at ${a.where} is unreachable${a.why}: ${a.what}; retry later`,
    () => ({ retryable: true }),
  ),
  REDIS_CONNECT_FAILED: reason(
    'UNAVAILABLE',
    (a: { where: string; problem: string }) => `cannot reach Redis at ${a.where}: ${a.problem}`,
  ),
  REDIS_WRITE_INTERRUPTED: reason(
    'DEADLINE_EXCEEDED',
    (a: { problem: string; commandId: string }) =>
      `the connection to Redis failed while the command was being written (${a.problem}); it may still take effect: retry with the same commandId`,
    ({ commandId }) => ({ commandId }),
  ),
  REDIS_APPLY_TIMEOUT: reason(
    'DEADLINE_EXCEEDED',
    (a: { timeoutMs: number; commandId: string }) =>
      `Redis ordered the command but this node did not apply it within ${a.timeoutMs} ms; it will take effect: retry with the same commandId to see its result`,
    ({ commandId }) => ({ commandId }),
  ),
  REDIS_TOO_OLD: reason(
    'FAILED_PRECONDITION',
    (a: { where: string; version: string | null }) =>
      `the redis store needs Redis 7.0 or newer; ${a.where} runs ${a.version ?? 'an unknown version'}`,
  ),
  TWOPC_WRITE_IN_PROGRESS: reason(
    'ABORTED',
    (a: { writeId: string }) => `write ${a.writeId} is already in progress`,
  ),
  TWOPC_RACES_LOST: reason(
    'ABORTED',
    (a: TwoPcFailure) => `the write lost ${a.attempts} races for room ${a.room}; retry it`,
    twoPcDetails,
  ),
  TWOPC_VOTE_TIMEOUT: reason(
    'UNAVAILABLE',
    (a: TwoPcFailure) =>
      `${who(a.nodes)} did not vote in time: every node must be up to write (room ${a.room})`,
    twoPcDetails,
  ),
  TWOPC_ROOM_IN_DOUBT: reason(
    'UNAVAILABLE',
    (a: TwoPcFailure) => `room ${a.room} is blocked by a transaction in doubt until its coordinator is back`,
    twoPcDetails,
  ),
  TWOPC_PREPARED_TABLE_FULL: reason(
    'UNAVAILABLE',
    (a: TwoPcFailure) => `${who(a.nodes)} has too many prepared transactions`,
    twoPcDetails,
  ),
  TWOPC_CATCHING_UP: reason(
    'UNAVAILABLE',
    (a: TwoPcFailure) => `${who(a.nodes)} is catching up after a restart`,
    twoPcDetails,
  ),
  TWOPC_WRITE_ABORTED: reason(
    'UNAVAILABLE',
    (a: TwoPcFailure) => `the write to room ${a.room} was aborted (${a.cause}); retry it`,
    twoPcDetails,
  ),
  TWOPC_COMMIT_NOT_SEEN: reason(
    'DEADLINE_EXCEEDED',
    (_a: { commandId: string }) => 'the write was not seen committed in time; retry it',
    ({ commandId }) => ({ commandId }),
  ),
  TWOPC_NOT_APPLIED: reason(
    'INTERNAL',
    (a: { txn: string }) => `2pc: ${a.txn} committed but was not applied here`,
  ),
  TWOPC_LOG_FAILED: reason(
    'UNAVAILABLE',
    (a: { problem: string }) => `the 2pc store's log failed: ${a.problem}`,
  ),
  // Raft (src/store/raft): the core's refusals, and the store's, transport's and forwarding's.
  RAFT_NOT_LEADER: reason(
    'UNAVAILABLE',
    (a: { nodeId: string; why: string; leader: string | null; leaderAddress: string | null }) =>
      `raft node ${a.nodeId} cannot take this now: ${a.why}`,
    ({ leader, leaderAddress }) => ({ leader, leaderAddress }),
  ),
  RAFT_PROPOSALS_DROPPED: reason(
    'RESOURCE_EXHAUSTED',
    (_: { uncommittedBytes: number }) => 'raft: too many uncommitted proposals; retry later',
    ({ uncommittedBytes }) => ({ uncommittedBytes }),
  ),
  RAFT_CHANGE_REFUSED: reason('FAILED_PRECONDITION', (a: { problem: string }) => `raft: ${a.problem}`),
  RAFT_CHANGE_INVALID: reason('INVALID_ARGUMENT', (a: { problem: string }) => a.problem),
  RAFT_CHANGE_TIMEOUT: reason(
    'DEADLINE_EXCEEDED',
    (a: { index: number }) =>
      `the membership change (log index ${a.index}) was not committed in time; check GET /v1/cluster before retrying`,
    ({ index }) => ({ index }),
  ),
  RAFT_CHANGE_LOST: reason(
    'UNAVAILABLE',
    () => 'the membership change was lost in a leader change; retry it',
  ),
  RAFT_TRANSFER_REFUSED: reason('FAILED_PRECONDITION', (a: { problem: string }) => `raft: ${a.problem}`),
  RAFT_TRANSFER_TIMEOUT: reason(
    'DEADLINE_EXCEEDED',
    (a: { target: string; leader: string | null }) => `leadership did not move to ${a.target} in time`,
    ({ leader }) => ({ leader }),
  ),
  RAFT_WRITE_LOST: reason(
    'UNAVAILABLE',
    (_: { index: number }) => 'the write was lost in a leader change; retry it with the same command id',
    ({ index }) => ({ index }),
  ),
  RAFT_APPLY_TIMEOUT: reason(
    'DEADLINE_EXCEEDED',
    (a: { index: number }) =>
      `the write (log index ${a.index}) was not applied on this node in time; retry it with the same command id`,
    ({ index }) => ({ index }),
  ),
  RAFT_READ_TIMEOUT: reason(
    'DEADLINE_EXCEEDED',
    () => 'the leader did not confirm a linearizable read in time',
  ),
  RAFT_FAILED: reason(
    'UNAVAILABLE',
    (a: { problem: string }) => `the raft store failed (${a.problem}); restart the node`,
  ),
  RAFT_PEER_UNKNOWN: reason(
    'UNAVAILABLE',
    (a: { peer: string }) => `no raft peer ${a.peer}`,
    ({ peer }) => ({ leader: peer }),
  ),
  RAFT_LEADER_UNREACHABLE: reason(
    'UNAVAILABLE',
    (a: { leader: string }) =>
      `the raft leader (${a.leader}) could not be reached; it did not take the command`,
    ({ leader }) => ({ leader }),
  ),
  RAFT_LEADER_NO_ANSWER: reason(
    'DEADLINE_EXCEEDED',
    (a: { leader: string; why: string }) =>
      `no answer from the raft leader (${a.leader}): ${a.why}; retry with the same command id`,
    ({ leader }) => ({ leader }),
  ),
  RAFT_LEADER_FAILED: reason(
    'INTERNAL',
    (a: { problem: string }) => `the raft leader failed to take the command: ${a.problem}`,
  ),
  RAFT_CLOSING: reason('UNAVAILABLE', () => 'this raft node is closing'),
  RAFT_MESSAGE_INVALID: reason(
    'INVALID_ARGUMENT',
    (a: { type: string }) => `unknown raft message type ${a.type}`,
  ),

  // ---- Anything else --------------------------------------------------------------------------
  INTERNAL_LOGGED: reason('INTERNAL', () => 'internal error; it has been logged'),
  INTERNAL_UNLOGGED: reason('INTERNAL', () => 'internal error'),
  ANSWER_MALFORMED: reason(
    'INTERNAL',
    (a: { problem: string }) => `the server answered a malformed message: ${a.problem}`,
  ),

  // ---- trust (session 10): recovery keys after a hand-over (access.ts) -------------------------
  RECOVERY_KEY_RETIRED: reason(
    'PERMISSION_DENIED',
    () =>
      'this recovery key was retired (the room was handed over, or its host made a new key); the host holds the current one',
  ),
  RECOVERY_KEY_REUSED: reason('INVALID_ARGUMENT', () => 'a recovery key is never used twice: make a new one'),
} as const;

export type Reason = keyof typeof REASONS;

/** The arguments a reason's template takes: none, or one object. */
export type ReasonArgs<R extends Reason> = Parameters<(typeof REASONS)[R]['message']>;

/** A refusal as data (what the state machine returns). */
export function refusal<R extends Reason>(name: R, ...args: ReasonArgs<R>): ErrorInfo {
  const spec = REASONS[name] as ReasonSpec<unknown>;
  const given = args[0];
  const details = spec.details?.(given);
  const message = spec.message(given);
  return details === undefined
    ? { code: spec.code, message, reason: name }
    : { code: spec.code, message, details, reason: name };
}

/** A refusal to throw (stores, services, APIs). */
export function chorusError<R extends Reason>(name: R, ...args: ReasonArgs<R>): ChorusError {
  return ChorusError.from(refusal(name, ...args));
}
