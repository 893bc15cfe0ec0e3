// Error reasons, area: the Raft store (src/store/raft): the core's refusals, and the store's,
// transport's and forwarding's. Part of the one registry (../reasons.ts builds it); add a reason of
// this area here, and to the README's table.

import { reason } from './spec.ts';

// In a pure call (see spec.ts): a bundle that gives no refusals (the web page) drops the table.
export const RAFT_REASONS = /* @__PURE__ */ (() =>
  ({
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
  }) as const)();
