// Error reasons, area: rooms as the state machine sees them: settings, command envelopes, rooms
// and members, tokens, joining (joining.ts), presence (presence.ts) and room snapshots. Part of the
// one registry (../reasons.ts builds it); add a reason of this area here, and to the README's table.

import { field, reason } from './spec.ts';

// In a pure call (see spec.ts): a bundle that gives no refusals (the web page) drops the table.
export const ROOM_REASONS = /* @__PURE__ */ (() =>
  ({
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

    // ---- Rooms snapshots ------------------------------------------------------------------------
    SNAPSHOT_NOT_OBJECT: reason('INVALID_ARGUMENT', () => 'a room snapshot must be an object'),
    SNAPSHOT_FORMAT_UNKNOWN: reason(
      'INVALID_ARGUMENT',
      (a: { format: unknown; expected: string }) => `unknown room snapshot format ${String(a.format)}`,
      ({ expected }) => ({ expected }),
    ),
    SNAPSHOT_NO_STATE: reason('INVALID_ARGUMENT', () => 'a room snapshot has no room state'),
  }) as const)();
