// The Raft store's network: the chorus.raft.v1.Raft gRPC service between the nodes of a group
// (proto/chorus/raft/v1/raft.proto). It carries the core's messages one way (an answer is another
// message in a later call), forwards clients' commands to the leader, and streams snapshots.
//
// Invariants:
// - Messages to one peer leave in the order the core produced them: one call in flight per peer,
//   carrying every message queued meanwhile (batching). A failed call drops what it carried (Raft
//   retransmits), reports the peer unreachable to the core, and the link backs off (50 ms doubling
//   to 1 s) before the next call; grpc-js reconnects the channel itself.
// - Every call has a deadline, and carries `chorus-peer-auth`: sender id, time and an HMAC-SHA256 of
//   both under the cluster secret. The server refuses a call without a valid one (or more than a
//   minute old, or whose messages claim another sender) with UNAUTHENTICATED.
// - A snapshot goes in its own InstallSnapshot stream (512 KiB chunks, under grpc-js's default
//   4 MiB and the node's 1 MiB receive limit), beside the link's queue; its end is reported to
//   the core through onSnapshotDone.

import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  credentials,
  makeClientConstructor,
  Metadata,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ChorusError } from '../../domain/index.ts';
import { ERROR_DETAILS_KEY, fromServiceError, toStatus } from '../../api/grpc/errors.ts';
import type * as pb from '../../api/grpc/generated/chorus/raft/v1/index.ts';
import { LOADER_OPTIONS } from '../../api/grpc/protos.ts';
import type { StoreLogger } from '../logger.ts';
import type { PeerService } from '../types.ts';
import { dataText } from './storage.ts';
import type { Entry, Message, MessageType, NodeId, SnapshotMeta } from './types.ts';
import { message } from './types.ts';

export const RAFT_SERVICE = 'chorus.raft.v1.Raft';
const AUTH_KEY = 'chorus-peer-auth';
const AUTH_WINDOW_MS = 60_000;
export const MESSAGE_DEADLINE_MS = 2_000;
export const FORWARD_DEADLINE_MS = 5_000;
const SNAPSHOT_DEADLINE_MS = 60_000;
const SNAPSHOT_CHUNK_BYTES = 512 * 1024;
/** A link holds at most this many messages while a call is in flight or it backs off. */
const MAX_QUEUED = 4096;
const MAX_BATCH_BYTES = 512 * 1024;
const MAX_SNAPSHOT_BYTES = 1 << 30;

export interface Peer {
  readonly id: NodeId;
  readonly address: string;
}

export interface TransportHandlers {
  /** Messages received (already authenticated), in order; a snap message carries its snapshot. */
  readonly onMessages: (messages: Message[]) => void;
  /** A follower's forwarded command (JSON); resolves once proposed, where it sits in the log. */
  readonly onClientRequest: (command: string) => Promise<{ index: number; term: number }>;
  readonly onSnapshotDone: (to: NodeId, ok: boolean) => void;
  readonly onUnreachable: (to: NodeId) => void;
  /** An operator's (or a follower's) membership change; resolves once applied on the leader. */
  readonly onChangeMembership: (change: pb.MembershipChange__Output) => Promise<pb.Membership>;
  /** An operator's (or a follower's) leader transfer; resolves once the new leader is known. */
  readonly onTransferLeader: (to: NodeId) => Promise<pb.Membership>;
}

type Rpc = 'RequestVote' | 'AppendEntries' | 'TimeoutNow';

function rpcOf(type: MessageType): Rpc {
  if (type === 'vote' || type === 'voteResp' || type === 'preVote' || type === 'preVoteResp')
    return 'RequestVote';
  if (type === 'timeoutNow') return 'TimeoutNow';
  return 'AppendEntries';
}

const MESSAGE_TYPES = new Set<string>([
  'app',
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
]);

export function toWire(m: Message): pb.Message {
  return {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map((e) => ({
      term: e.term,
      index: e.index,
      type: e.type,
      data: Buffer.from(dataText(e.data), 'utf8'),
    })),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: m.context,
  };
}

export function fromWire(w: pb.Message__Output): Message {
  if (!MESSAGE_TYPES.has(w.type))
    throw new ChorusError('INVALID_ARGUMENT', `unknown raft message type ${w.type}`);
  return message({
    type: w.type as MessageType,
    from: w.from,
    to: w.to,
    term: w.term,
    logTerm: w.logTerm,
    index: w.index,
    entries: w.entries.map((e): Entry => ({
      term: e.term,
      index: e.index,
      type: e.type === 'conf' ? 'conf' : 'normal',
      data: e.data.toString('utf8'),
    })),
    commit: w.commit,
    reject: w.reject,
    rejectHint: w.rejectHint,
    context: w.context,
  });
}

function sign(secret: string, from: NodeId, at: number): string {
  return createHmac('sha256', secret).update(`chorus-raft-peer\n${from}\n${at}`).digest('hex');
}

export function authMetadata(secret: string, from: NodeId, now = Date.now()): Metadata {
  const md = new Metadata();
  md.set(AUTH_KEY, `${from}.${now}.${sign(secret, from, now)}`);
  return md;
}

/** The authenticated sender of a call, or null. */
export function verifyAuth(
  secret: string,
  peers: ReadonlySet<NodeId>,
  md: Metadata,
  now = Date.now(),
): NodeId | null {
  const raw = md.get(AUTH_KEY)[0];
  if (typeof raw !== 'string') return null;
  const m = /^([a-z0-9-]+)\.(\d+)\.([0-9a-f]{64})$/.exec(raw);
  if (!m || !peers.has(m[1]!)) return null;
  const at = Number(m[2]);
  if (Math.abs(now - at) > AUTH_WINDOW_MS) return null;
  const want = Buffer.from(sign(secret, m[1]!, at), 'hex');
  return timingSafeEqual(want, Buffer.from(m[3]!, 'hex')) ? m[1]! : null;
}

/** Operators sign under their own domain: a peer's signature is not an admin's, nor the reverse. */
function signAdmin(secret: string, at: number): string {
  return createHmac('sha256', secret).update(`chorus-raft-admin\n${at}`).digest('hex');
}

/** What `chorus raft …` sends: the time and an HMAC of it under the cluster secret. */
export function adminMetadata(secret: string, now = Date.now()): Metadata {
  const md = new Metadata();
  md.set(AUTH_KEY, `admin.${now}.${signAdmin(secret, now)}`);
  return md;
}

export function verifyAdmin(secret: string, md: Metadata, now = Date.now()): boolean {
  const raw = md.get(AUTH_KEY)[0];
  if (typeof raw !== 'string') return false;
  const m = /^admin\.(\d+)\.([0-9a-f]{64})$/.exec(raw);
  if (!m) return false;
  const at = Number(m[1]);
  if (Math.abs(now - at) > AUTH_WINDOW_MS) return false;
  return timingSafeEqual(Buffer.from(signAdmin(secret, at), 'hex'), Buffer.from(m[2]!, 'hex'));
}

let definition: pb.RaftDefinition | null = null;
export function raftDefinition(): pb.RaftDefinition {
  definition ??= loadSync('chorus/raft/v1/raft.proto', LOADER_OPTIONS)[
    RAFT_SERVICE
  ] as unknown as pb.RaftDefinition;
  return definition;
}

const unauthenticated = { code: status.UNAUTHENTICATED, details: 'raft peer authentication failed' };

/** One peer: its client and the ordered queue of messages waiting for the call in flight. */
class PeerLink {
  private queue: Message[] = [];
  private sending = false;
  private failures = 0;
  private closed = false;

  readonly peer: Peer;
  readonly client: pb.RaftClient;
  private readonly transport: RaftTransport;

  constructor(peer: Peer, client: pb.RaftClient, transport: RaftTransport) {
    this.peer = peer;
    this.client = client;
    this.transport = transport;
  }

  push(messages: readonly Message[]): void {
    for (const m of messages) this.queue.push(m);
    if (this.queue.length > MAX_QUEUED) this.queue.splice(0, this.queue.length - MAX_QUEUED);
    if (!this.sending) void this.pump();
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.client.close();
  }

  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.takeBatch();
        const rpc = rpcOf(batch[0]!.type);
        try {
          await this.call(rpc, batch);
          this.failures = 0;
        } catch {
          this.failures++;
          this.queue = [];
          this.transport.handlers.onUnreachable(this.peer.id);
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** (this.failures - 1))));
        }
      }
    } finally {
      this.sending = false;
    }
  }

  /** The longest run of queued messages for the same RPC, within MAX_BATCH_BYTES. */
  private takeBatch(): Message[] {
    const rpc = rpcOf(this.queue[0]!.type);
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && rpcOf(this.queue[n]!.type) === rpc) {
      for (const e of this.queue[n]!.entries) bytes += dataText(e.data).length;
      if (n > 0 && bytes > MAX_BATCH_BYTES) break;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private call(rpc: Rpc, batch: Message[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const md = authMetadata(this.transport.secret, this.transport.id);
      const deadline = Date.now() + MESSAGE_DEADLINE_MS;
      this.client[rpc]({ messages: batch.map(toWire) }, md, { deadline }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }
}

export class RaftTransport {
  readonly id: NodeId;
  readonly secret: string;
  readonly handlers: TransportHandlers;
  private readonly logger: StoreLogger;
  private readonly links = new Map<NodeId, PeerLink>();
  /** Who may call: the peers this node knows (from --peers, then the membership changes it applied). */
  private readonly members = new Set<NodeId>();

  constructor(
    id: NodeId,
    peers: readonly Peer[],
    secret: string,
    handlers: TransportHandlers,
    logger: StoreLogger,
  ) {
    this.id = id;
    this.secret = secret;
    this.handlers = handlers;
    this.logger = logger;
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

  /** Forgets a removed member: no more calls to it, none accepted from it. */
  removePeer(id: NodeId): void {
    if (id === this.id) return;
    this.members.delete(id);
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
    if (!link) return Promise.reject(new ChorusError('UNAVAILABLE', `no raft peer ${to}`, { leader: to }));
    return new Promise((resolve, reject) => {
      const done = (err: ServiceError | null, res?: pb.Membership__Output): void => {
        if (err || !res) reject(err ? fromServiceError(err) : new ChorusError('UNAVAILABLE', 'empty answer'));
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

  /** Forwards a client's command to the leader: where it was proposed, or the leader's refusal. */
  forward(to: NodeId, command: string): Promise<{ index: number; term: number }> {
    const link = this.links.get(to);
    if (!link) return Promise.reject(new ChorusError('UNAVAILABLE', `no raft peer ${to}`, { leader: to }));
    return new Promise((resolve, reject) => {
      link.client.ClientRequest(
        { command },
        authMetadata(this.secret, this.id),
        { deadline: Date.now() + FORWARD_DEADLINE_MS },
        (err: ServiceError | null, res?: pb.ClientAccepted__Output) => {
          if (err || !res) {
            const e = err ? fromServiceError(err) : new ChorusError('UNAVAILABLE', 'empty answer');
            // The leader could not be reached in time: the command may or may not be in its log.
            // Only the leader's own refusal (its error trailer) or a connection that never opened
            // says it is not; a call lost on the way back is of unknown outcome (DEADLINE_EXCEEDED).
            const refusedOrNeverSent =
              err?.metadata?.get(ERROR_DETAILS_KEY)[0] instanceof Buffer ||
              /No connection established/.test(err?.details ?? '');
            const code = e.code === 'UNAVAILABLE' && !refusedOrNeverSent ? 'DEADLINE_EXCEEDED' : e.code;
            reject(
              e.code === 'DEADLINE_EXCEEDED' || e.code === 'UNAVAILABLE'
                ? new ChorusError(
                    code,
                    `${code === 'UNAVAILABLE' ? 'the raft leader did not take the command' : 'no answer from the raft leader; retry with the same command id'} (${to}): ${e.message}`,
                    {
                      ...e.details,
                      leader: to,
                    },
                  )
                : e,
            );
          } else resolve({ index: res.index, term: res.term });
        },
      );
    });
  }

  private async sendSnapshot(m: Message): Promise<void> {
    const link = this.links.get(m.to);
    const snap = m.snapshot;
    if (!link || !snap) return;
    const data = Buffer.from(dataText(snap.data), 'utf8');
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
    const handlers: pb.RaftHandlers = {
      RequestVote: batch(),
      AppendEntries: batch(),
      TimeoutNow: batch(),
      ClientRequest: (call, callback) => {
        if (verifyAuth(this.secret, this.members, call.metadata) === null) return callback(unauthenticated);
        h.onClientRequest(call.request.command).then(
          (at) => callback(null, at),
          (err: unknown) =>
            callback(toStatus(err, { error: (o, msg) => this.logger.warn(o, msg) }, 'ClientRequest')),
        );
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
          const snapshot = { meta: head.meta, data: Buffer.concat(chunks).toString('utf8') };
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
    for (const link of this.links.values()) link.close();
  }
}
