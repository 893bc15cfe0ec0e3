// Clients' commands a follower forwards to its leader, on the peer links (link.ts) instead of one
// unary ClientRequest call each: a follower queues a Forward {id, command} on its link to the
// leader; the leader proposes it and queues a ForwardAnswer {id, index, term | error} on its own
// link back. The forwards (and answers) of one event-loop turn share one batch, and the leader
// proposes every forward of a batch in the same Ready (so they share its append and fsync); the
// answers are queued as the core takes the commands, so they leave in the batch of that append.
//
// Invariants:
// - Each forward is settled exactly once: by its answer from the peer it was sent to, by its
//   deadline (FORWARD_DEADLINE_MS), when a link with that peer breaks, or on close.
// - Only the leader's answer says whether it took the command. Without one (deadline, broken link)
//   the command may or may not be in its log: DEADLINE_EXCEEDED, "retry with the same command id"
//   (the room's idempotency window applies a retried command once). The leader's refusal comes back
//   as the error it raised (code, message, details, reason), e.g. UNAVAILABLE with a leader hint.
// - Ids are this node's own (a counter); an answer from another peer than the one asked is ignored.
// - Mixed versions: a leader that answers forwards on its link says so when it opens its own link
//   to us (FORWARDS_KEY in the stream's metadata). To a leader that has not said so (an older
//   version, whose protobuf would silently drop the forwards), or whose link to us is not open,
//   the command goes as one unary ClientRequest call (forwardUnary), which every version serves.

import {
  ChorusError,
  chorusError,
  ERROR_CODES,
  type ErrorCode,
  type ErrorDetails,
} from '../../domain/index.ts';
import type { ServiceError } from '@grpc/grpc-js';
import { ERROR_DETAILS_KEY, fromServiceError } from '../../api/grpc/errors.ts';
import type * as pb from '../../api/grpc/generated/chorus/raft/v1/index.ts';
import { authMetadata } from './auth.ts';
import type { Outgoing } from './link.ts';
import type { NodeId } from './types.ts';

/** How long a follower waits for the leader's answer to a forwarded command. */
export const FORWARD_DEADLINE_MS = 5_000;

/**
 * Metadata of a link's stream: its sender answers the forwards it is sent on the link back (a
 * node of the version before forwards on links sends no such key).
 */
export const FORWARDS_KEY = 'chorus-raft-forwards';

export interface Proposed {
  readonly index: number;
  readonly term: number;
}

/** What became of a forwarded command on the leader: where it was proposed, or why not. */
export type ForwardOutcome = { readonly ok: Proposed } | { readonly error: unknown };

interface Waiting {
  readonly to: NodeId;
  readonly resolve: (at: Proposed) => void;
  readonly reject: (err: ChorusError) => void;
  readonly timer: NodeJS.Timeout;
}

function noAnswer(to: NodeId, why: string): ChorusError {
  return chorusError('RAFT_LEADER_NO_ANSWER', { leader: to, why });
}

export class Forwarder {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  /** Queues an item on the link to `to`; false when there is no such peer. */
  private readonly send: (to: NodeId, item: Outgoing) => boolean;

  constructor(send: (to: NodeId, item: Outgoing) => boolean) {
    this.send = send;
  }

  /** Hands `command` to the leader `to`: where it proposed it, or its refusal. */
  forward(to: NodeId, command: string): Promise<Proposed> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(noAnswer(to, `none within ${FORWARD_DEADLINE_MS} ms`));
      }, FORWARD_DEADLINE_MS);
      this.waiting.set(id, { to, resolve, reject, timer });
      if (!this.send(to, { forward: { id, command } })) {
        this.settle(id)?.reject(chorusError('RAFT_PEER_UNKNOWN', { peer: to }));
      }
    });
  }

  /** The leader's answer to one of our forwards. */
  answered(from: NodeId, answer: pb.ForwardAnswer__Output): void {
    if (this.waiting.get(answer.id)?.to !== from) return;
    const w = this.settle(answer.id)!;
    if (answer.error === '') w.resolve({ index: answer.index, term: answer.term });
    else w.reject(errorOf(answer.error));
  }

  /**
   * A link with `peer` broke: its forwards are of unknown outcome, unless the link to it never
   * connected (`sentNothing`: the leader did not take them).
   */
  lost(peer: NodeId, sentNothing: boolean): void {
    for (const [id, w] of this.waiting) {
      if (w.to !== peer) continue;
      this.settle(id)?.reject(
        sentNothing
          ? chorusError('RAFT_LEADER_UNREACHABLE', { leader: peer })
          : noAnswer(peer, 'the link to it broke'),
      );
    }
  }

  closeAll(err: ChorusError): void {
    for (const id of [...this.waiting.keys()]) this.settle(id)?.reject(err);
  }

  private settle(id: number): Waiting | undefined {
    const w = this.waiting.get(id);
    if (w === undefined) return undefined;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    return w;
  }
}

/**
 * Hands `command` to the leader as one unary ClientRequest call (for a leader that does not take
 * forwards on its link). Outcomes as a link's: the leader's refusal as it raised it; a call that
 * never connected, UNAVAILABLE (nothing left); any other failure, DEADLINE_EXCEEDED (the leader may
 * have taken it).
 */
export function forwardUnary(
  client: pb.RaftClient,
  sender: { readonly id: NodeId; readonly secret: string },
  to: NodeId,
  command: string,
): Promise<Proposed> {
  return new Promise((resolve, reject) => {
    client.ClientRequest(
      { command },
      authMetadata(sender.secret, sender.id),
      { deadline: Date.now() + FORWARD_DEADLINE_MS },
      (err: ServiceError | null, res?: pb.ClientAccepted__Output) => {
        if (err === null && res !== undefined) return resolve({ index: res.index, term: res.term });
        if (err === null) return reject(noAnswer(to, 'an empty answer'));
        // The leader's own refusal carries its error in the trailer.
        if (err.metadata?.get(ERROR_DETAILS_KEY)[0] instanceof Buffer) return reject(fromServiceError(err));
        if (/No connection established/.test(err.details))
          return reject(chorusError('RAFT_LEADER_UNREACHABLE', { leader: to }));
        reject(noAnswer(to, err.details));
      },
    );
  });
}

/** The leader's answer to forward `id`: where it proposed the command, or why not. */
export function answerOf(id: number, outcome: ForwardOutcome): pb.ForwardAnswer {
  if ('ok' in outcome) return { id, index: outcome.ok.index, term: outcome.ok.term, error: '' };
  const err =
    outcome.error instanceof ChorusError
      ? outcome.error
      : chorusError('RAFT_LEADER_FAILED', { problem: String(outcome.error) });
  return { id, index: 0, term: 0, error: JSON.stringify(err.toInfo()) };
}

/** A refusal as the leader sent it (an unknown code is INTERNAL: never trust the wire). */
function errorOf(text: string): ChorusError {
  try {
    const info = JSON.parse(text) as {
      code?: unknown;
      message?: unknown;
      details?: unknown;
      reason?: unknown;
    };
    const code = (ERROR_CODES as readonly unknown[]).includes(info.code)
      ? (info.code as ErrorCode)
      : 'INTERNAL';
    const details =
      typeof info.details === 'object' && info.details !== null ? (info.details as ErrorDetails) : undefined;
    return ChorusError.from({
      code,
      message: typeof info.message === 'string' ? info.message : 'the raft leader refused the command',
      ...(details === undefined ? {} : { details }),
      ...(typeof info.reason === 'string' ? { reason: info.reason } : {}),
    });
  } catch {
    return chorusError('ANSWER_MALFORMED', { problem: 'the raft leader answered with an unreadable error' });
  }
}
