// Error reasons, area: the two-phase-commit store (src/store/twopc). A failed 2PC write names its
// TWOPC_* reason and carries the protocol's cause in details.cause (the chorus_2pc_aborts_total
// label). Part of the one registry (../reasons.ts builds it); add a reason of this area here, and
// to the README's table.

import type { ErrorDetails } from '../errors.ts';
import { reason } from './spec.ts';

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

// In a pure call (see spec.ts): a bundle that gives no refusals (the web page) drops the table.
export const TWOPC_REASONS = /* @__PURE__ */ (() =>
  ({
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
      (a: TwoPcFailure) =>
        `room ${a.room} is blocked by a transaction in doubt until its coordinator is back`,
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
  }) as const)();
