// The gRPC server a group store's node serves its peer services on (Raft's, 2PC's), on a loopback
// address: what the in-process groups (raft-group.ts, twopc-group.ts) start each node with.

import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { PeerService } from '../../src/store/types.ts';

/** A started server with these services bound at `address` (host:port). */
export async function servePeers(services: readonly PeerService[], address: string): Promise<Server> {
  const server = new Server();
  for (const svc of services) server.addService(svc.definition, svc.handlers);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}
