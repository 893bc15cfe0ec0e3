// The 2PC nodes' transport over gRPC (proto/chorus/twopc/v1/twopc.proto): each message of the core
// is one unary call to the peer it is addressed to, fire and forget (the core re-sends what
// matters, so a lost call is only a lost message). Every call has a deadline, and carries an HMAC
// of the cluster secret over (method, sender, time) in its metadata; the server refuses a call
// without a valid, fresh one (UNAUTHENTICATED) before the message reaches the core.

import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  type Client,
  credentials,
  makeClientConstructor,
  Metadata,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type ServiceError,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { loadProtos } from '../../api/grpc/protos.ts';
import type { PeerService } from '../types.ts';
import type { Message, MessageType, NodeId } from './types.ts';

const PACKAGE = 'chorus.twopc.v1';

/** Which call carries each message type. */
const ROUTES: Record<MessageType, { readonly service: string; readonly method: string }> = {
  RequestVote: { service: 'VotePhase', method: 'RequestVote' },
  Vote: { service: 'VotePhase', method: 'Vote' },
  GlobalDecision: { service: 'DecisionPhase', method: 'GlobalDecision' },
  Ack: { service: 'DecisionPhase', method: 'Ack' },
  GetDecision: { service: 'DecisionPhase', method: 'GetDecision' },
  DecisionReply: { service: 'DecisionPhase', method: 'DecisionReply' },
  CatchUpRequest: { service: 'CatchUp', method: 'CatchUpRequest' },
  CatchUpReply: { service: 'CatchUp', method: 'CatchUpReply' },
  Ping: { service: 'CatchUp', method: 'Ping' },
};

/** A peer's clock may differ this much from ours before its calls are refused as stale. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export const PEER_HEADER = 'x-chorus-peer';
export const PEER_TIME_HEADER = 'x-chorus-peer-time';
export const PEER_MAC_HEADER = 'x-chorus-peer-mac';

function mac(secret: string, method: string, from: string, time: string): Buffer {
  return createHmac('sha256', secret).update(`chorus.twopc.v1\n${method}\n${from}\n${time}`).digest();
}

/** The metadata that authenticates `from` to its peers for one call of `method`. */
export function peerMetadata(secret: string, method: string, from: NodeId, nowMs = Date.now()): Metadata {
  const md = new Metadata();
  const time = String(nowMs);
  md.set(PEER_HEADER, from);
  md.set(PEER_TIME_HEADER, time);
  md.set(PEER_MAC_HEADER, mac(secret, method, from, time).toString('base64'));
  return md;
}

/** The authenticated sender of a call, or null when its metadata does not prove one. */
export function verifyPeer(secret: string, method: string, md: Metadata, nowMs = Date.now()): NodeId | null {
  const [from] = md.get(PEER_HEADER);
  const [time] = md.get(PEER_TIME_HEADER);
  const [given] = md.get(PEER_MAC_HEADER);
  if (typeof from !== 'string' || typeof time !== 'string' || typeof given !== 'string') return null;
  if (!(Math.abs(nowMs - Number(time)) <= MAX_CLOCK_SKEW_MS)) return null;
  const expected = mac(secret, method, from, time);
  const actual = Buffer.from(given, 'base64');
  return actual.length === expected.length && timingSafeEqual(actual, expected) ? from : null;
}

/** A message as its call's request (the field names are the core's). */
function toWire(m: Message): Record<string, unknown> {
  const { type: _type, ...fields } = m;
  return fields;
}

const bytes = (v: unknown): Uint8Array => (v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array());
const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));

/** A call's request as the core's message (proto3 leaves absent fields at their defaults). */
export function fromWire(type: MessageType, w: Record<string, unknown>): Message {
  const base = { from: text(w.from), to: text(w.to) };
  switch (type) {
    case 'RequestVote':
      return {
        type,
        ...base,
        txn: text(w.txn),
        participants: Array.isArray(w.participants) ? w.participants.map(text) : [],
        room: text(w.room),
        version: num(w.version),
        command: bytes(w.command),
      };
    case 'Vote': {
      const reason = text(w.reason);
      return {
        type,
        ...base,
        txn: text(w.txn),
        yes: w.yes === true,
        position: num(w.position),
        ...(reason === ''
          ? {}
          : { reason: reason as NonNullable<Extract<Message, { type: 'Vote' }>['reason']> }),
      };
    }
    case 'GlobalDecision':
      return { type, ...base, txn: text(w.txn), outcome: w.outcome === 'commit' ? 'commit' : 'abort' };
    case 'Ack':
      return { type, ...base, txn: text(w.txn) };
    case 'GetDecision':
      return {
        type,
        ...base,
        txn: text(w.txn),
        coordinator: text(w.coordinator),
        room: text(w.room),
        version: num(w.version),
      };
    case 'DecisionReply': {
      const o = w.outcome;
      return { type, ...base, txn: text(w.txn), outcome: o === 'commit' || o === 'abort' ? o : 'unknown' };
    }
    case 'CatchUpRequest': {
      const positions: Record<string, number> = {};
      const given = (w.positions ?? {}) as Record<string, unknown>;
      for (const [room, p] of Object.entries(given)) positions[room] = num(p);
      return { type, ...base, positions };
    }
    case 'CatchUpReply': {
      const entries = Array.isArray(w.entries) ? (w.entries as Record<string, unknown>[]) : [];
      return {
        type,
        ...base,
        entries: entries.map((e) => ({
          txn: text(e.txn),
          room: text(e.room),
          version: num(e.version),
          command: bytes(e.command),
        })),
        complete: w.complete === true,
      };
    }
    case 'Ping':
      return { type, ...base, reply: w.reply === true };
  }
}

function serviceDefinition(service: string): ServiceDefinition {
  return loadProtos()[`${PACKAGE}.${service}`] as ServiceDefinition;
}

/**
 * The three services, each call handing its message to `deliver` once its sender is proven and
 * is the message's `from`. `deliver` returns false when this node cannot take messages (not
 * started, or closed): the call then fails UNAVAILABLE.
 */
export function twoPcPeerServices(secret: string, deliver: (m: Message) => boolean): PeerService[] {
  const byService = new Map<string, UntypedServiceImplementation>();
  for (const [type, route] of Object.entries(ROUTES) as [MessageType, (typeof ROUTES)[MessageType]][]) {
    const handlers = byService.get(route.service) ?? {};
    byService.set(route.service, handlers);
    handlers[route.method] = (
      call: ServerUnaryCall<Record<string, unknown>, object>,
      done: sendUnaryData<object>,
    ) => {
      const sender = verifyPeer(secret, route.method, call.metadata);
      if (sender === null || sender !== call.request.from) {
        done({ code: status.UNAUTHENTICATED, details: 'a 2PC peer call needs a valid cluster HMAC' });
        return;
      }
      if (!deliver(fromWire(type, call.request))) {
        done({ code: status.UNAVAILABLE, details: 'this 2PC node is not running' });
        return;
      }
      done(null, {});
    };
  }
  return [...byService].map(([service, handlers]) => ({
    name: `${PACKAGE}.${service}`,
    definition: serviceDefinition(service),
    handlers,
  }));
}

type UnaryInvoker = (
  request: Record<string, unknown>,
  md: Metadata,
  options: { deadline: number },
  done: (err: ServiceError | null) => void,
) => void;

/** Clients to every peer: send() is fire and forget with a deadline. */
export class PeerLinks {
  private readonly clients = new Map<NodeId, Map<string, Client>>();
  private readonly self: NodeId;
  private readonly secret: string;
  private readonly deadlineMs: number;
  private readonly onError: (to: NodeId, err: ServiceError) => void;

  constructor(options: {
    self: NodeId;
    peers: readonly { id: NodeId; address: string }[];
    secret: string;
    deadlineMs: number;
    onError?: (to: NodeId, err: ServiceError) => void;
  }) {
    this.self = options.self;
    this.secret = options.secret;
    this.deadlineMs = options.deadlineMs;
    this.onError = options.onError ?? (() => undefined);
    for (const peer of options.peers) {
      if (peer.id === options.self) continue;
      const byService = new Map<string, Client>();
      for (const service of new Set(Object.values(ROUTES).map((r) => r.service))) {
        const Ctor = makeClientConstructor(serviceDefinition(service), `${PACKAGE}.${service}`);
        byService.set(service, new Ctor(peer.address, credentials.createInsecure()));
      }
      this.clients.set(peer.id, byService);
    }
  }

  send(m: Message): void {
    const route = ROUTES[m.type];
    const client = this.clients.get(m.to)?.get(route.service);
    if (client === undefined) return;
    const invoke = (client as unknown as Record<string, UnaryInvoker>)[route.method]!.bind(client);
    const md = peerMetadata(this.secret, route.method, this.self);
    invoke(toWire(m), md, { deadline: Date.now() + this.deadlineMs }, (err) => {
      if (err) this.onError(m.to, err);
    });
  }

  close(): void {
    for (const byService of this.clients.values()) for (const c of byService.values()) c.close();
    this.clients.clear();
  }
}
