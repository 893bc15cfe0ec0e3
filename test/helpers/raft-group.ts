// A Raft group in this process: n RaftStores, each serving its peer service on a real gRPC server
// on loopback, over fresh data dirs. For the Store contract and the Raft store's own tests.

import type { Server } from '@grpc/grpc-js';
import { servePeers } from './peer-server.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SILENT_LOGGER } from '../../src/store/logger.ts';
import { openRaftStore, type RaftStore, type RaftStoreOptions } from '../../src/store/raft/store.ts';
import type { Peer } from '../../src/store/raft/transport.ts';
import { freePort } from '../../src/cluster/ports.ts';

export const GROUP_SECRET = 'test-cluster-secret-0123456789';

export interface RaftMember {
  readonly id: string;
  readonly address: string;
  readonly dataDir: string;
  store: RaftStore;
  server: Server;
}

export interface RaftGroup {
  readonly members: RaftMember[];
  readonly peers: readonly Peer[];
  /** The member that leads now, if all open members agree on one. */
  leader(): RaftMember | undefined;
  /** Stops one member (its store gracefully, then its server). */
  stop(member: RaftMember): Promise<void>;
  /** Starts a stopped member again on its data dir and address. */
  restart(member: RaftMember): Promise<void>;
  close(): Promise<void>;
}

export function serve(store: RaftStore, address: string): Promise<Server> {
  return servePeers(store.peerServices, address);
}

export async function startRaftGroup(
  n: number,
  options: Partial<Omit<RaftStoreOptions, 'dataDir' | 'nodeId' | 'peers' | 'secret'>> = {},
): Promise<RaftGroup> {
  const peers: Peer[] = [];
  for (let i = 0; i < n; i++) peers.push({ id: `n${i + 1}`, address: `127.0.0.1:${await freePort()}` });
  const open = (peer: Peer, dataDir: string): Promise<RaftStore> =>
    openRaftStore({
      dataDir,
      nodeId: peer.id,
      peers,
      secret: GROUP_SECRET,
      logger: SILENT_LOGGER,
      tickMs: 20,
      fsync: false,
      ...options,
    });
  const members: RaftMember[] = [];
  for (const peer of peers) {
    const dataDir = await mkdtemp(path.join(tmpdir(), `chorus-raft-${peer.id}-`));
    const store = await open(peer, dataDir);
    members.push({
      id: peer.id,
      address: peer.address,
      dataDir,
      store,
      server: await serve(store, peer.address),
    });
  }
  const stopped = new Set<RaftMember>();
  const group: RaftGroup = {
    members,
    peers,
    leader() {
      const open = members.filter((m) => !stopped.has(m));
      const leaders = new Set(open.map((m) => m.store.groupStatus().leaderId));
      const [id] = leaders;
      if (leaders.size !== 1 || id === null) return undefined;
      return open.find((m) => m.id === id);
    },
    async stop(member) {
      stopped.add(member);
      await member.store.close();
      member.server.forceShutdown();
    },
    async restart(member) {
      member.store = await open(member, member.dataDir);
      member.server = await serve(member.store, member.address);
      stopped.delete(member);
    },
    async close() {
      await Promise.all(members.filter((m) => !stopped.has(m)).map((m) => group.stop(m)));
      for (const m of members) await rm(m.dataDir, { recursive: true, force: true });
    },
  };
  return group;
}
