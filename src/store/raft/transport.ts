// The Raft store's network: the chorus.raft.v1.Raft gRPC service between the nodes of a group
// (proto/chorus/raft/v1/raft.proto). It carries the core's messages one way (an answer is another
// message on the other node's link), forwards clients' commands to the leader on the same links
// (forwarding.ts; as unary ClientRequest calls to a leader of an older version), and streams
// snapshots.
//
// Invariants:
// - Messages to one peer travel on that peer's link (link.ts): one long-lived stream, in order,
//   batched, bounded. The server takes a batch only from the sender its stream authenticated as,
//   addressed to this node, from a current member; the older unary calls (RequestVote,
//   AppendEntries, TimeoutNow, ClientRequest) are still served, so a node of the previous version
//   can talk to it.
// - Every call carries `chorus-peer-auth` (auth.ts); the server refuses a call without a valid one
//   (or whose messages claim another sender) with UNAUTHENTICATED. Every unary call has a deadline.
// - A snapshot goes in its own InstallSnapshot stream (512 KiB chunks, under grpc-js's default
//   4 MiB and the node's 1 MiB receive limit), beside the link; its end is reported to the core
//   through onSnapshotDone.

import {
  credentials,
  makeClientConstructor,
  type Metadata,
  status,
  type sendUnaryData,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { chorusError } from '../../domain/index.ts';
import { fromServiceError, toStatus } from '../../api/grpc/errors.ts';
import type * as pb from '../../api/grpc/generated/chorus/raft/v1/index.ts';
import { LOADER_OPTIONS } from '../../api/grpc/protos.ts';
import type { StoreLogger } from '../logger.ts';
import type { PeerService } from '../types.ts';
import { authMetadata, verifyAdmin, verifyAuth } from './auth.ts';
import {
  answerOf,
  Forwarder,
  FORWARDS_KEY,
  forwardUnary,
  type ForwardOutcome,
  type Proposed,
} from './forwarding.ts';
import { PeerLink, type LinkOwner, type Peer } from './link.ts';
import { dataBuffer } from './storage.ts';
import type { Message, NodeId, SnapshotMeta } from './types.ts';
import { fromWire, toWire } from './wire.ts';

export { adminMetadata, authMetadata, verifyAdmin, verifyAuth } from './auth.ts';
export type { Peer } from './link.ts';
export { fromWire, toWire } from './wire.ts';

export { FORWARD_DEADLINE_MS } from './forwarding.ts';
export const RAFT_SERVICE = 'chorus.raft.v1.Raft';
const SNAPSHOT_DEADLINE_MS = 60_000;
const SNAPSHOT_CHUNK_BYTES = 512 * 1024;
const MAX_SNAPSHOT_BYTES = 1 << 30;

export interface TransportHandlers {
  /** Messages received (already authenticated), in order; a snap message carries its snapshot. */
  readonly onMessages: (messages: Message[]) => void;
  /**
   * A follower's forwarded command (JSON): `answer` is called once, with where it sits in the log
   * or why it was refused, as soon as it is proposed (synchronously when the core takes it), so the
   * answer is queued on the follower's link before the append that carries the entry leaves, and
   * both go in one batch.
   */
  readonly onClientRequest: (command: string, answer: (outcome: ForwardOutcome) => void) => void;
  readonly onSnapshotDone: (to: NodeId, ok: boolean) => void;
  readonly onUnreachable: (to: NodeId) => void;
  /** An operator's (or a follower's) membership change; resolves once applied on the leader. */
  readonly onChangeMembership: (change: pb.MembershipChange__Output) => Promise<pb.Membership>;
  /** An operator's (or a follower's) leader transfer; resolves once the new leader is known. */
  readonly onTransferLeader: (to: NodeId) => Promise<pb.Membership>;
}

let definition: pb.RaftDefinition | null = null;
export function raftDefinition(): pb.RaftDefinition {
  definition ??= loadSync('chorus/raft/v1/raft.proto', LOADER_OPTIONS)[
    RAFT_SERVICE
  ] as unknown as pb.RaftDefinition;
  return definition;
}

export interface RaftTransportOptions {
  /**
   * Whether this node takes forwards on its peers' links and says so on its own (default true).
   * False behaves as a node of the version before them (it ignores them, as its protobuf would):
   * how the tests play an old leader in a rolling upgrade.
   */
  readonly takesForwards?: boolean;
}

const unauthenticated = { code: status.UNAUTHENTICATED, details: 'raft peer authentication failed' };

export class RaftTransport implements LinkOwner {
  readonly id: NodeId;
  readonly secret: string;
  readonly handlers: TransportHandlers;
  private readonly logger: StoreLogger;
  private readonly links = new Map<NodeId, PeerLink>();
  /** Who may call: the peers this node knows (from --peers, then the membership changes it applied). */
  private readonly members = new Set<NodeId>();
  /** See RaftTransportOptions.takesForwards. */
  readonly takesForwards: boolean;
  /**
   * The peers whose open link to this node said they answer forwards on it (FORWARDS_KEY), with
   * that link's call: forwards to them ride our link; to any other, a unary ClientRequest.
   */
  private readonly forwardsHeard = new Map<NodeId, object>();
  private readonly forwarder = new Forwarder((to, item) => {
    const link = this.links.get(to);
    link?.pushLater(item);
    return link !== undefined;
  });

  constructor(
    id: NodeId,
    peers: readonly Peer[],
    secret: string,
    handlers: TransportHandlers,
    logger: StoreLogger,
    options: RaftTransportOptions = {},
  ) {
    this.id = id;
    this.secret = secret;
    this.handlers = handlers;
    this.logger = logger;
    this.takesForwards = options.takesForwards ?? true;
    for (const peer of peers) this.setPeer(peer);
  }

  /** Adds a peer, or moves it to a new address (a membership change applied). */
  setPeer(peer: Peer): void {
    this.members.add(peer.id);
    if (peer.id === this.id) return;
    const link = this.links.get(peer.id);
    if (link?.peer.address === peer.address) return;
    link?.close();
    const Ctor = makeClientConstructor(raftDefinition(), RAFT_SERVICE);
    const client = new Ctor(peer.address, credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
    }) as unknown as pb.RaftClient;
    this.links.set(peer.id, new PeerLink(peer, client, this));
  }

  unreachable(to: NodeId, sentNothing: boolean): void {
    this.forwarder.lost(to, sentNothing);
    this.handlers.onUnreachable(to);
  }

  /** Forgets a removed member: no more calls to it, none accepted from it. */
  removePeer(id: NodeId): void {
    if (id === this.id) return;
    this.members.delete(id);
    this.forwardsHeard.delete(id);
    this.links.get(id)?.close();
    this.links.delete(id);
  }

  /** Passes an administrative call on to the leader (as a peer) and returns its answer. */
  forwardAdmin(
    to: NodeId,
    call: { change: pb.MembershipChange } | { transferTo: NodeId },
    deadlineMs: number,
  ): Promise<pb.Membership__Output> {
    const link = this.links.get(to);
    if (!link) return Promise.reject(chorusError('RAFT_PEER_UNKNOWN', { peer: to }));
    return new Promise((resolve, reject) => {
      const done = (err: ServiceError | null, res?: pb.Membership__Output): void => {
        if (err || !res)
          reject(err ? fromServiceError(err) : chorusError('ANSWER_MALFORMED', { problem: 'empty answer' }));
        else resolve(res);
      };
      const md = authMetadata(this.secret, this.id);
      const options = { deadline: Date.now() + deadlineMs };
      if ('change' in call) link.client.ChangeMembership(call.change, md, options, done);
      else link.client.TransferLeader({ to: call.transferTo }, md, options, done);
    });
  }

  /** Hands the core's messages to their peers' links (snapshots to their own stream). */
  send(messages: readonly Message[]): void {
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      if (m.type === 'snap') {
        void this.sendSnapshot(m);
        continue;
      }
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [to, list] of byPeer) this.links.get(to)?.push(list);
  }

  /**
   * Forwards a client's command to the leader: on its link if its own link to us said it answers
   * there, else as a unary ClientRequest. Where it was proposed, or why not.
   */
  forward(to: NodeId, command: string): Promise<Proposed> {
    if (this.forwardsHeard.has(to)) return this.forwarder.forward(to, command);
    const link = this.links.get(to);
    if (!link) return Promise.reject(chorusError('RAFT_PEER_UNKNOWN', { peer: to }));
    return forwardUnary(link.client, this, to, command);
  }

  /** A batch's forwards, on the leader: each proposed, and answered on the link back to `from`. */
  private takeForwards(from: NodeId, forwards: readonly pb.Forward__Output[]): void {
    for (const f of forwards) {
      this.handlers.onClientRequest(f.command, (outcome) =>
        this.links.get(from)?.pushLater({ answer: answerOf(f.id, outcome) }),
      );
    }
  }

  private async sendSnapshot(m: Message): Promise<void> {
    const link = this.links.get(m.to);
    const snap = m.snapshot;
    if (!link || !snap) return;
    const data = dataBuffer(snap.data);
    let ok = false;
    try {
      await new Promise<void>((resolve, reject) => {
        const call = link.client.InstallSnapshot(
          authMetadata(this.secret, this.id),
          { deadline: Date.now() + SNAPSHOT_DEADLINE_MS },
          (err) => (err ? reject(err) : resolve()),
        );
        const first = { message: toWire({ ...m, snapshot: null }), meta: JSON.stringify(snap.meta) };
        if (data.length === 0) call.write({ ...first, data: Buffer.alloc(0) });
        for (let at = 0; at < data.length; at += SNAPSHOT_CHUNK_BYTES) {
          const chunk = data.subarray(at, at + SNAPSHOT_CHUNK_BYTES);
          call.write(at === 0 ? { ...first, data: chunk } : { data: chunk });
        }
        call.end();
      });
      ok = true;
    } catch (err) {
      this.logger.warn({ to: m.to, err: String(err) }, 'raft snapshot could not be sent; retried later');
    }
    this.handlers.onSnapshotDone(m.to, ok);
  }

  /** The service this node serves to its peers. */
  service(): PeerService {
    const h = this.handlers;
    const batch =
      () =>
      (call: ServerUnaryCall<pb.MessageBatch__Output, pb.Ack>, callback: sendUnaryData<pb.Ack>): void => {
        const from = verifyAuth(this.secret, this.members, call.metadata);
        if (from === null) return callback(unauthenticated);
        try {
          const messages = call.request.messages.map(fromWire);
          if (messages.some((m) => m.from !== from || m.to !== this.id)) return callback(unauthenticated);
          h.onMessages(messages);
          callback(null, {});
        } catch (err) {
          callback(toStatus(err, { error: (o, msg) => this.logger.warn(o, msg) }, 'raft'));
        }
      };
    const stream = (
      call: ServerReadableStream<pb.MessageBatch__Output, pb.Ack>,
      callback: sendUnaryData<pb.Ack>,
    ): void => {
      const from = verifyAuth(this.secret, this.members, call.metadata);
      if (from === null) return callback(unauthenticated);
      // A stream without the key (the peer restarted on an older version while its previous stream
      // was still half-open) clears what the previous one said.
      if (call.metadata.get(FORWARDS_KEY)[0] === '1') this.forwardsHeard.set(from, call);
      else this.forwardsHeard.delete(from);
      let ended = false;
      const end = (err: Parameters<sendUnaryData<pb.Ack>>[0]): void => {
        if (ended) return;
        ended = true;
        if (this.forwardsHeard.get(from) === call) this.forwardsHeard.delete(from);
        if (err === null) callback(null, {});
        else callback(err);
        // The sender's link is gone (its process died or its network broke): as for our own link;
        // answers to our forwards it carried may be lost.
        this.forwarder.lost(from, false);
        h.onUnreachable(from);
      };
      call.on('data', (batch: pb.MessageBatch__Output) => {
        if (ended) return;
        try {
          const messages = batch.messages.map(fromWire);
          // A member removed while its stream was open is heard no more.
          if (!this.members.has(from) || messages.some((m) => m.from !== from || m.to !== this.id))
            return end(unauthenticated);
          if (messages.length > 0) h.onMessages(messages);
          for (const a of batch.answers) this.forwarder.answered(from, a);
          if (this.takesForwards) this.takeForwards(from, batch.forwards);
        } catch (err) {
          end(toStatus(err, { error: (o, msg) => this.logger.warn(o, msg) }, 'raft'));
        }
      });
      call.on('end', () => end(null));
      call.on('cancelled', () => end(null));
      call.on('error', () => end(null));
    };
    const handlers: pb.RaftHandlers = {
      Stream: stream,
      RequestVote: batch(),
      AppendEntries: batch(),
      TimeoutNow: batch(),
      ClientRequest: (call, callback) => {
        if (verifyAuth(this.secret, this.members, call.metadata) === null) return callback(unauthenticated);
        h.onClientRequest(call.request.command, (outcome) => {
          if ('ok' in outcome) callback(null, outcome.ok);
          else
            callback(
              toStatus(outcome.error, { error: (o, msg) => this.logger.warn(o, msg) }, 'ClientRequest'),
            );
        });
      },
      ChangeMembership: (call, callback) => {
        if (!this.adminOrPeer(call.metadata)) return callback(unauthenticated);
        h.onChangeMembership(call.request).then(
          (res) => callback(null, res),
          (err: unknown) =>
            callback(toStatus(err, { error: (o, msg) => this.logger.warn(o, msg) }, 'ChangeMembership')),
        );
      },
      TransferLeader: (call, callback) => {
        if (!this.adminOrPeer(call.metadata)) return callback(unauthenticated);
        h.onTransferLeader(call.request.to).then(
          (res) => callback(null, res),
          (err: unknown) =>
            callback(toStatus(err, { error: (o, msg) => this.logger.warn(o, msg) }, 'TransferLeader')),
        );
      },
      InstallSnapshot: (call, callback) => {
        const from = verifyAuth(this.secret, this.members, call.metadata);
        if (from === null) {
          call.destroy();
          return callback(unauthenticated);
        }
        let head: { message: Message; meta: SnapshotMeta } | null = null;
        const chunks: Buffer[] = [];
        let size = 0;
        let failed = false;
        call.on('data', (chunk: pb.SnapshotChunk__Output) => {
          if (failed) return;
          if (head === null) {
            if (!chunk.message) {
              failed = true;
              return callback({
                code: status.INVALID_ARGUMENT,
                details: 'first snapshot chunk without its message',
              });
            }
            head = { message: fromWire(chunk.message), meta: JSON.parse(chunk.meta) as SnapshotMeta };
          }
          size += chunk.data.length;
          if (size > MAX_SNAPSHOT_BYTES) {
            failed = true;
            return callback({ code: status.RESOURCE_EXHAUSTED, details: 'snapshot too large' });
          }
          chunks.push(chunk.data);
        });
        call.on('end', () => {
          if (failed) return;
          if (head === null || head.message.from !== from) return callback(unauthenticated);
          const snapshot = { meta: head.meta, data: Buffer.concat(chunks) };
          h.onMessages([{ ...head.message, snapshot }]);
          callback(null, {});
        });
      },
    };
    return { name: RAFT_SERVICE, definition: raftDefinition(), handlers };
  }

  private adminOrPeer(md: Metadata): boolean {
    return verifyAdmin(this.secret, md) || verifyAuth(this.secret, this.members, md) !== null;
  }

  close(): void {
    this.forwarder.closeAll(chorusError('RAFT_CLOSING'));
    for (const link of this.links.values()) link.close();
  }
}
