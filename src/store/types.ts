// The Store contract (docs/architecture.md section 1): a store only puts commands in one agreed order, durably,
// and feeds that order to the state machine on this node. It holds no business rules.

import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type {
  CommandResult,
  Envelope,
  RoomListing as DomainListing,
  RoomEvent,
  RoomState,
} from '../domain/index.ts';

/**
 * Every kind of store there is or is planned. Which ones a node offers is what src/store/registry.ts
 * registers ('volatile' is a store for tests only, registered by the tests that use it).
 */
export type StoreKind = 'memory' | 'redis' | 'raft' | '2pc' | 'volatile';

/** What a write returns once this node has applied it. */
export interface CommitOutcome {
  readonly result: CommandResult;
  /** The room right after the command (null when the room does not exist). */
  readonly state: RoomState | null;
}

/** What a subscriber receives: events in order, or a whole state when events since its version are gone. */
export type FeedItem =
  | { readonly kind: 'event'; readonly event: RoomEvent }
  | { readonly kind: 'reset'; readonly state: RoomState };

export type FeedListener = (item: FeedItem) => void;

export interface Subscription {
  close(): void;
}

/** A room as the public room list shows it (the rules are the domain's, listing.ts). */
export type RoomListing = DomainListing;

export interface StoreHealth {
  /** True when the store can take writes now. */
  readonly ready: boolean;
  /** A sentence for /readyz and logs: why not ready, or what it is connected to. */
  readonly detail: string;
}

/** A gRPC service the store's nodes use among themselves, served on the node's gRPC port. */
export interface PeerService {
  /** Full service name, e.g. chorus.raft.v1.Raft. */
  readonly name: string;
  readonly definition: ServiceDefinition;
  readonly handlers: UntypedServiceImplementation;
}

/** A member of a store's group as this node sees it. */
export interface MemberStatus {
  readonly id: string;
  /** HOST:PORT of its gRPC server. */
  readonly address: string;
  /** voter, learner, participant … */
  readonly role: string;
  /** Store-specific figures (match index, reachable, last contact in ms …). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** What `GET /v1/cluster` and ClusterService/GetStatus show, for stores whose nodes form a group. */
export interface GroupStatus {
  readonly nodeId: string;
  /** leader, follower, candidate, learner, participant … */
  readonly role: string;
  readonly leaderId: string | null;
  readonly members: readonly MemberStatus[];
  /** Store-specific figures (term, commit and applied index, in-doubt transactions …). */
  readonly details: Readonly<Record<string, unknown>>;
}

export interface Store {
  readonly kind: StoreKind;
  /** Connects, recovers, loads; resolves when the store can serve. */
  start(): Promise<void>;
  /**
   * Orders the command, makes it durable, applies it on this node, then resolves with its result.
   * Rejects with ChorusError UNAVAILABLE when the command could not be ordered (nothing applied),
   * or DEADLINE_EXCEEDED when it was handed over but this node did not see it applied in time
   * (it may still take effect: retry with the same commandId, which is safe).
   */
  submit(env: Envelope): Promise<CommitOutcome>;
  /**
   * The room as applied on this node, once its version is at least minVersion (waiting at most
   * timeoutMs, then DEADLINE_EXCEEDED). Null when the room does not exist.
   */
  read(roomId: string, minVersion?: number, timeoutMs?: number): Promise<RoomState | null>;
  /**
   * A linearizable read (consistency=linearizable): reflects every write acknowledged anywhere before
   * the call. Stores whose nodes form a group confirm with their leader first (Raft: ReadIndex); a
   * store without it reads as `read` does (a single node's reads already are).
   */
  readLinearizable?(roomId: string, timeoutMs?: number): Promise<RoomState | null>;
  /**
   * Live events of a room after `afterVersion`. Events this node still holds are replayed first;
   * when they are gone (or afterVersion is ahead of nothing) a `reset` with the current state comes
   * first instead. Rejects NOT_FOUND when the room does not exist.
   */
  subscribe(roomId: string, afterVersion: number, listener: FeedListener): Promise<Subscription>;
  /** Public rooms, newest first, at most `limit`. */
  listRooms(limit: number): Promise<readonly RoomListing[]>;
  /** Ids of rooms this node holds in memory (the playback clock walks them). */
  loadedRooms(): readonly string[];
  health(): StoreHealth;
  /** Services its nodes call on each other (consensus stores); served beside the client API. */
  readonly peerServices?: readonly PeerService[];
  /** This node's view of its group (consensus stores). */
  groupStatus?(): GroupStatus;
  /** Stops taking writes, flushes what is acknowledged, releases resources. Idempotent. */
  close(): Promise<void>;
}
