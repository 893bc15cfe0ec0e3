// The operator's side of the Raft store's administration (`chorus raft …`, and `chorus cluster`
// adding its learners): a chorus.raft.v1.Raft client on any member's gRPC address, authenticated
// with the cluster secret under the admin domain (transport.ts). The member answers itself when it
// leads, or passes the call on to the leader; either way the answer comes once the change is
// applied on the leader (a transfer: once the new leader is known).

import { credentials, makeClientConstructor, type ServiceError } from '@grpc/grpc-js';
import type * as pb from '../../api/grpc/generated/chorus/raft/v1/index.ts';
import { fromServiceError } from '../../api/grpc/errors.ts';
import { ChorusError, chorusError } from '../../domain/index.ts';
import { adminMetadata, RAFT_SERVICE, raftDefinition } from './transport.ts';

export interface RaftAdmin {
  change(
    type: 'addVoter' | 'addLearner' | 'removeNode',
    node: string,
    address?: string,
  ): Promise<pb.Membership__Output>;
  transfer(to?: string): Promise<pb.Membership__Output>;
  close(): void;
}

/** A client of the member at `address` (HOST:PORT); every call has `deadlineMs`. */
export function raftAdmin(address: string, secret: string, deadlineMs = 20_000): RaftAdmin {
  const Ctor = makeClientConstructor(raftDefinition(), RAFT_SERVICE);
  const client = new Ctor(address, credentials.createInsecure()) as unknown as pb.RaftClient;
  const answer =
    (resolve: (m: pb.Membership__Output) => void, reject: (e: ChorusError) => void) =>
    (err: ServiceError | null, res?: pb.Membership__Output): void => {
      if (err || !res)
        reject(err ? fromServiceError(err) : chorusError('ANSWER_MALFORMED', { problem: 'empty answer' }));
      else resolve(res);
    };
  return {
    change: (type, node, addr = '') =>
      new Promise((resolve, reject) =>
        client.ChangeMembership(
          { type, node, address: addr },
          adminMetadata(secret),
          { deadline: Date.now() + deadlineMs },
          answer(resolve, reject),
        ),
      ),
    transfer: (to = '') =>
      new Promise((resolve, reject) =>
        client.TransferLeader(
          { to },
          adminMetadata(secret),
          { deadline: Date.now() + deadlineMs },
          answer(resolve, reject),
        ),
      ),
    close: () => client.close(),
  };
}

/**
 * Runs `call` until it stops failing UNAVAILABLE (no leader yet, an election) or the deadline
 * passes; any other answer, success or failure, is final.
 */
export async function whileNoLeader<T>(call: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ChorusError) || err.code !== 'UNAVAILABLE' || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
