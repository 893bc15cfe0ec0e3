// The Raft core's vocabulary: entries, messages, hard and soft state, snapshots, membership, and the
// Ready batch the core hands to the store. Plain data only, so a transport can encode any of it and
// a test can compare it. Design after etcd-io/raft (raftpb, rawnode.go), in this project's types.
//
// Invariants: index 0 is the empty log's sentinel (term 0); terms and indexes only grow; a message
// with term 0 is local (never sent over the wire); every field of a Message is always present, with
// a neutral default, so a codec never has to guess.

/** A member's id: the `--node-id` of a Chorus node. '' means "nobody" (no vote, no leader). */
export type NodeId = string;
export const NONE: NodeId = '';

/** Opaque payload: Chorus puts encoded command envelopes here. */
export type EntryData = Uint8Array | string;

/** `normal` carries the store's data (empty for the leader's no-op); `conf` carries a ConfChange. */
export type EntryType = 'normal' | 'conf';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: EntryData;
}

/** Single-server membership changes (Raft thesis §4.1): one voter or learner at a time. */
export type ConfChangeType = 'addVoter' | 'removeNode' | 'addLearner';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly node: NodeId;
  /**
   * Where the node can be reached (its gRPC HOST:PORT), for the store: the core never reads it. It
   * travels in the log so every member learns a new member's address when it applies the change.
   */
  readonly address?: string;
}

/** The membership: voters decide; learners only replicate (and can be promoted by addVoter). */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

/** The state machine at `meta.index`, as bytes the store produced; the core never looks inside. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: EntryData;
}

/** What must be durable before any message that depends on it leaves the node. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile, for status pages and the store's routing; never persisted. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId;
}

export type MessageType =
  | 'app' // AppendEntries (also carries the commit index)
  | 'appResp'
  | 'vote' // RequestVote
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'snap' // InstallSnapshot: one whole snapshot; the transport chunks it
  | 'timeoutNow' // leader transfer: "campaign now, ignoring leases"
  | 'readIndex' // follower -> leader: please confirm a read index for `context`
  | 'readIndexResp';

export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** app: term of the entry at `index`; appResp reject: the follower's term at `rejectHint`. */
  readonly logTerm: number;
  /** app: index before `entries`; appResp: last index matched (or probed, on reject). */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** appResp reject: the follower's guess of the largest index where the logs may match. */
  readonly rejectHint: number;
  readonly snapshot: Snapshot | null;
  /** heartbeat/readIndex: the read request's id; vote: 'transfer' when forced by timeoutNow. */
  readonly context: string;
}

/** A confirmed linearizable read: once this node has applied `index`, answer request `context`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/**
 * One batch of work for the store, to be carried out in this order (see node.ts for the contract):
 * persist `snapshot` (replacing the whole log), then `entries` (replacing any persisted entries at
 * or above the first one's index), then `hardState`; send `messages`; restore `snapshot` into the state machine and apply
 * `committedEntries`; answer `readStates`; then call `advance(ready)`.
 */
export interface Ready {
  readonly softState: SoftState | null; // null: unchanged since the last Ready
  readonly hardState: HardState | null; // null: unchanged since the last Ready
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** True when the node is leader: its appends may go out while its own write is in progress. */
  readonly mayReplicateBeforePersist: boolean;
  /**
   * Whether this Ready's write must be fsynced before its messages go out (etcd-io/raft's
   * `MustSync`): when it has entries, or the term or vote changed. A hard state whose commit index
   * alone moved is written but need not be synced: the commit index is only a hint, re-learned from
   * the leader after a crash, and every entry it covers was synced when it was written.
   */
  readonly mustSync: boolean;
}

export function message(fields: Pick<Message, 'type' | 'from' | 'to' | 'term'> & Partial<Message>): Message {
  return {
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: '',
    ...fields,
  };
}

/** Bytes of a payload, for the size limits (UTF-8 length of a string, computed without I/O). */
export function dataSize(data: EntryData): number {
  if (typeof data !== 'string') return data.byteLength;
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

export function payloadSize(entries: readonly Entry[]): number {
  let n = 0;
  for (const e of entries) n += dataSize(e.data);
  return n;
}

export const EMPTY_CONF: ConfState = { voters: [], learners: [] };

export function encodeConfChange(cc: ConfChange): string {
  return JSON.stringify(
    cc.address === undefined
      ? { type: cc.type, node: cc.node }
      : { type: cc.type, node: cc.node, address: cc.address },
  );
}

export function decodeConfChange(data: EntryData): ConfChange {
  const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
  const v = JSON.parse(text) as { type?: unknown; node?: unknown; address?: unknown };
  if (
    (v.type !== 'addVoter' && v.type !== 'removeNode' && v.type !== 'addLearner') ||
    typeof v.node !== 'string' ||
    v.node === NONE ||
    (v.address !== undefined && typeof v.address !== 'string')
  ) {
    throw new Error(`not a conf change: ${text}`);
  }
  return typeof v.address === 'string'
    ? { type: v.type, node: v.node, address: v.address }
    : { type: v.type, node: v.node };
}
