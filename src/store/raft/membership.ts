// The Raft store's address book and the pieces of its membership administration kept out of
// store.ts: which gRPC address each member has, kept up to date from the conf-change entries the
// node applies (a change that adds a node carries its address, so every member learns it through
// the log) and carried in snapshots (so a node restored from one still knows every address).
//
// Invariants: the book only changes when a committed conf change is applied or a snapshot restored,
// in log order, so every node's book agrees at the same applied index; --peers seeds it at start
// (the addresses of the founders, or of the group a joining node is told about). A removed member
// leaves the book, except this node itself.

import { chorusError } from '../../domain/index.ts';
import type * as pb from '../../api/grpc/generated/chorus/raft/v1/index.ts';
import type { RaftNode } from './node.ts';
import type { Peer } from './transport.ts';
import { NONE, type ConfChange, type ConfChangeType, type NodeId } from './types.ts';

const TYPES: readonly ConfChangeType[] = ['addVoter', 'addLearner', 'removeNode'];
/** HOST:PORT with a port; the host is a name, IPv4 or bracketed IPv6. */
const ADDRESS = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

export class AddressBook {
  private readonly self: NodeId;
  private readonly book = new Map<NodeId, string>();

  constructor(self: NodeId, seed: readonly Peer[]) {
    this.self = self;
    for (const p of seed) this.book.set(p.id, p.address);
  }

  get(id: NodeId): string | undefined {
    return this.book.get(id);
  }

  /** A conf change applied: a change that names an address records it; a removal forgets the node. */
  apply(cc: ConfChange): { set?: Peer; removed?: NodeId } {
    if (cc.type === 'removeNode') {
      if (cc.node === this.self) return {};
      this.book.delete(cc.node);
      return { removed: cc.node };
    }
    if (cc.address === undefined || cc.address === '') return {};
    this.book.set(cc.node, cc.address);
    return { set: { id: cc.node, address: cc.address } };
  }

  /** Every known member with its address. */
  peers(): Peer[] {
    return [...this.book].map(([id, address]) => ({ id, address }));
  }

  /** The members of `conf` with their addresses (what status pages and hints show). */
  members(core: RaftNode): Peer[] {
    const conf = core.tracker.conf();
    const ids = [...conf.voters, ...conf.learners];
    // A node that has not joined yet (no membership applied) shows the peers it was told about.
    if (ids.length === 0) return this.peers();
    return ids.map((id) => ({ id, address: this.book.get(id) ?? '' }));
  }

  /** For snapshots. */
  toJSON(): Peer[] {
    return this.peers();
  }

  restore(peers: readonly Peer[]): Peer[] {
    for (const p of peers) this.book.set(p.id, p.address);
    return [...peers];
  }
}

/** A MembershipChange request checked and turned into a ConfChange, or INVALID_ARGUMENT. */
export function confChangeOf(req: pb.MembershipChange__Output, book: AddressBook): ConfChange {
  const type = req.type as ConfChangeType;
  if (!TYPES.includes(type))
    throw chorusError('RAFT_CHANGE_INVALID', {
      problem: `membership change type must be one of ${TYPES.join(', ')}`,
    });
  if (!/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/.test(req.node))
    throw chorusError('RAFT_CHANGE_INVALID', { problem: `"${req.node}" is not a node id` });
  if (type === 'removeNode') return { type, node: req.node };
  const address = req.address !== '' ? req.address : book.get(req.node);
  if (address === undefined)
    throw chorusError('RAFT_CHANGE_INVALID', {
      problem: `${req.node} is not known here: give its address (ID=HOST:PORT)`,
    });
  if (!ADDRESS.test(address))
    throw chorusError('RAFT_CHANGE_INVALID', { problem: `"${address}" is not HOST:PORT` });
  return { type, node: req.node, address };
}

/** The membership reply: what this node (the leader) has applied. */
export function membershipOf(core: RaftNode, book: AddressBook, index: number): pb.Membership {
  const conf = core.tracker.conf();
  const member = (id: NodeId): pb.Member => ({ id, address: book.get(id) ?? '' });
  return {
    leader: core.lead === NONE ? '' : core.lead,
    term: core.term,
    index,
    voters: conf.voters.map(member),
    learners: conf.learners.map(member),
  };
}
