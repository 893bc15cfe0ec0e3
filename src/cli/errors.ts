// The CLI's own refusals, as a table beside the node's registry (src/domain/reasons.ts): what the
// `chorus` client commands say when they refuse before asking a node (a bad flag, no saved token),
// or when a node's answer cannot be read. A reason the node also has (FIELD_INVALID, NOTHING_PLAYING)
// comes from the registry instead. Every CLI error is built here, through `cliError`, and carries
// its name as `reason`, like the registry's.
//
// `hint` adds a line for the people behind the commonest refusals of a node (401/403/404: a lost
// host token, kicked, banned, not a host, a private room): what happened and what to run next.

import { ChorusError, reasonOf, type ErrorCode } from '../domain/errors.ts';
import type { Reason } from '../domain/reasons.ts';

interface CliReasonSpec<A> {
  readonly code: ErrorCode;
  readonly message: (args: A) => string;
}

/* @__NO_SIDE_EFFECTS__ */
function reason<A = void>(code: ErrorCode, message: (args: A) => string): CliReasonSpec<A> {
  return { code, message };
}

/** " --as NAME" when the command acts as a named identity: to repeat it in advice. */
type As = { as: string };

export const CLI_REASONS = {
  TRANSPORT_UNKNOWN: reason(
    'INVALID_ARGUMENT',
    (a: { choices: string }) => `--transport must be ${a.choices}`,
  ),
  GRPC_SERVER_NOT_ADDRESS: reason(
    'INVALID_ARGUMENT',
    (a: { example: string; given: string }) =>
      `with --transport grpc, --server is the gRPC address HOST:PORT (e.g. ${a.example}), not ${a.given}`,
  ),
  SERVER_UNREACHABLE: reason(
    'UNAVAILABLE',
    (a: { server: string; problem: string }) => `cannot reach ${a.server}: ${a.problem}`,
  ),
  ANSWER_NOT_CHORUS: reason(
    'INTERNAL',
    (a: { status: number; path: string; body: string }) => `HTTP ${a.status} from ${a.path}: ${a.body}`,
  ),
  STREAM_REFUSED: reason('UNAVAILABLE', (a: { status: number }) => `HTTP ${a.status}`),
  NO_SAVED_TOKEN: reason(
    'UNAUTHENTICATED',
    (a: { roomId: string } & As) =>
      `no token for room ${a.roomId}${a.as}: run \`chorus join ${a.roomId} <name>${a.as}\` first, or pass --token`,
  ),
  TOKEN_ALREADY_SAVED: reason(
    'FAILED_PRECONDITION',
    (a: { roomId: string } & As) =>
      `a token for room ${a.roomId}${a.as} is already saved (perhaps the host's); join with --as NAME to ` +
      `keep both, or --replace to replace it`,
  ),
  NO_ENTRY_AT: reason(
    'NOT_FOUND',
    (a: { position: string }) => `there is no entry at position ${a.position}`,
  ),
  TRACK_NOT_SAID: reason('INVALID_ARGUMENT', () => 'say which track: a catalog id, search words, or --title'),
  NO_TRACK_MATCHES: reason('NOT_FOUND', (a: { query: string }) => `no track matches "${a.query}"`),
  DIRECTION_UNKNOWN: reason('INVALID_ARGUMENT', () => 'direction must be up, down or withdraw'),
  ROLE_UNKNOWN: reason('INVALID_ARGUMENT', () => 'the role must be cohost or member'),
  MEMBER_UNKNOWN: reason(
    'NOT_FOUND',
    (a: { roomId: string; who: string; list: string }) =>
      `no ${a.list} named "${a.who}" (nor with that id) in room ${a.roomId} (\`chorus ${a.list === 'member' ? 'members' : 'pending'} ${a.roomId}\` lists them)`,
  ),
  MEMBER_NAME_SHARED: reason(
    'INVALID_ARGUMENT',
    (a: { who: string; ids: string }) => `several members are named "${a.who}": give the id (${a.ids})`,
  ),
  JOIN_TURNED_AWAY: reason(
    'PERMISSION_DENIED',
    (a: { roomId: string }) => `the host of room ${a.roomId} turned your join request away`,
  ),
  REMOVED_FROM_ROOM: reason(
    'PERMISSION_DENIED',
    (a: { roomId: string; banned: boolean }) =>
      `the host ${a.banned ? 'banned' : 'removed'} you from room ${a.roomId}; the watch ended`,
  ),
  JOIN_STILL_WAITING: reason(
    'DEADLINE_EXCEEDED',
    (a: { roomId: string } & As) =>
      `the host has not admitted you yet; your request still waits (\`chorus queue ${a.roomId}${a.as}\` shows when you are in)`,
  ),
  // `chorus cluster` and `chorus raft` (their flags).
  OPTION_NOT_WHOLE: reason(
    'INVALID_ARGUMENT',
    (a: { flag: string; min: number; max: number; given: string }) =>
      `${a.flag} must be a whole number from ${a.min} to ${a.max} (got "${a.given}")`,
  ),
  RAFT_MEMBER_SPEC: reason(
    'INVALID_ARGUMENT',
    (a: { spec: string }) => `"${a.spec}" is not ID=HOST:GRPC_PORT`,
  ),
} as const;

export type CliReason = keyof typeof CLI_REASONS;
type CliArgs<R extends CliReason> = Parameters<(typeof CLI_REASONS)[R]['message']>;

/** A CLI refusal to throw, named by its reason. */
export function cliError<R extends CliReason>(name: R, ...args: CliArgs<R>): ChorusError {
  const spec = CLI_REASONS[name] as CliReasonSpec<unknown>;
  return new ChorusError(spec.code, spec.message(args[0]), undefined, name);
}

/** A node's refusal as it came over the wire (REST body or gRPC trailers), reason and all. */
export function received(code: ErrorCode, message: string, details?: Record<string, unknown>): ChorusError {
  return new ChorusError(code, message, details, reasonOf(details));
}

/** What to tell a person after a node's refusal, by its reason; null when the message says it all. */
export const HINTS: Readonly<Partial<Record<Reason, (roomId: string, as: string) => string>>> = {
  TOKEN_INVALID: (room, as) =>
    `the node no longer accepts this saved token (its secret changed, or the grace of an old one ended): ` +
    `a host runs \`chorus recover ${room} --key RECOVERY_KEY${as}\`, anyone else joins again`,
  NOT_A_MEMBER: (room, as) =>
    `this identity is no longer in room ${room}: the host may have removed you (\`chorus join ${room} NAME${as} --replace\` to come back)`,
  MEMBER_BANNED: () => 'the host banned this identity: the room refuses its token and its joins',
  HOST_ONLY: () =>
    "this needs the host's (or a co-host's) token: act as the identity that holds it (--as NAME, or none for the one create-room saved)",
  REMOVE_MEMBER_NOT_ALLOWED: () => 'a co-host removes plain members only; the host removes anyone',
  ROOM_NOT_FOUND: () => 'a private room is found only with its invite (--invite SECRET, from its link)',
  PASSCODE_REQUIRED: () => 'this room asks for a passcode: --passcode CODE',
  PASSCODE_WRONG: () => 'ask the host for the passcode; give it with --passcode CODE',
  JOIN_PENDING: (room, as) =>
    `the host has not admitted you yet (\`chorus queue ${room}${as}\` shows when you are in)`,
  RECOVERY_KEY_WRONG: () =>
    'the recovery key is the one `chorus create-room` (or `chorus recovery-key`) printed once, as `recovery-key …`',
  RECOVERY_KEY_RETIRED: (room) =>
    `the room was handed over (or given a new key) since this key was made; its host makes a new one with \`chorus recovery-key ${room}\``,
};

/** A line of advice after `err`, for the person who ran the command; null when none fits. */
export function hint(err: ChorusError, roomId: string | undefined, as: string): string | null {
  const name = err.reason ?? reasonOf(err.details);
  const make = name !== undefined ? HINTS[name as Reason] : undefined;
  return make ? make(roomId ?? 'ROOM', as) : null;
}
