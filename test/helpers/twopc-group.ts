// A 2PC group of N store nodes in this process, each with its own gRPC server on a loopback port
// serving its peer services, and its own data dir: what the 2PC store tests run the protocol on
// over real gRPC. A node can be stopped (closed, as after a crash it would be reopened from its
// log) and started again on the same port and data dir.

import type { Server } from '@grpc/grpc-js';
import { servePeers } from './peer-server.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/cluster/ports.ts';
import { SILENT_LOGGER } from '../../src/store/logger.ts';
import { TwoPcStore, type TwoPcStoreOptions } from '../../src/store/twopc/store.ts';

export const GROUP_SECRET = 'twopc-test-secret-0123456789';

export interface GroupNode {
  readonly id: string;
  readonly address: string;
  readonly dataDir: string;
  store: TwoPcStore | null;
  server: Server | null;
}

export interface TwoPcGroup {
  readonly nodes: GroupNode[];
  start(i: number): Promise<TwoPcStore>;
  stop(i: number): Promise<void>;
  /** Polls until every running node is ready (all peers reachable, caught up). */
  ready(timeoutMs?: number): Promise<void>;
  /** Stops every node; removes the data dirs too unless `remove` is false (then call remove()). */
  close(remove?: boolean): Promise<void>;
  remove(): Promise<void>;
}

export async function startTwoPcGroup(
  n: number,
  extra: Partial<TwoPcStoreOptions> = {},
  /** Runs before any node starts (a test writes logs into the data dirs). */
  prepare?: (nodes: readonly GroupNode[]) => Promise<void>,
): Promise<TwoPcGroup> {
  const root = await mkdtemp(path.join(tmpdir(), 'chorus-2pc-'));
  const nodes: GroupNode[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    nodes.push({
      id: `n${i + 1}`,
      address: `127.0.0.1:${port}`,
      dataDir: path.join(root, `n${i + 1}`),
      store: null,
      server: null,
    });
  }
  const peers = nodes.map((x) => ({ id: x.id, address: x.address }));

  async function start(i: number): Promise<TwoPcStore> {
    const node = nodes[i]!;
    const store = new TwoPcStore({
      dataDir: node.dataDir,
      nodeId: node.id,
      peers,
      secret: GROUP_SECRET,
      logger: SILENT_LOGGER,
      tickMs: 20,
      // The machine running the tests may be loaded; the contract's answers, not their speed, are tested.
      submitTimeoutMs: 60_000,
      ...extra,
    });
    const server = await servePeers(store.peerServices, node.address);
    await store.start();
    node.store = store;
    node.server = server;
    return store;
  }

  async function stop(i: number): Promise<void> {
    const node = nodes[i]!;
    node.server?.forceShutdown();
    node.server = null;
    await node.store?.close();
    node.store = null;
  }

  async function ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const waiting = nodes.filter((x) => x.store !== null && !x.store.health().ready);
      if (waiting.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`2pc group not ready: ${waiting.map((x) => x.store!.health().detail).join('; ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  await prepare?.(nodes);
  for (let i = 0; i < n; i++) await start(i);
  return {
    nodes,
    start,
    stop,
    ready,
    close: async (remove = true) => {
      for (let i = 0; i < n; i++) await stop(i);
      if (remove) await rm(root, { recursive: true, force: true });
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
