// The shared Store contract against one node of a 3-node 2PC group in this process, over real
// gRPC on loopback: every write is prepared and committed on all three nodes.

import { runStoreContract } from '../../store-contract.ts';
import { startTwoPcGroup } from '../../helpers/twopc-group.ts';

runStoreContract('2pc (node n1 of 3, real gRPC on loopback)', async () => {
  const group = await startTwoPcGroup(3);
  await group.ready();
  return { store: group.nodes[0]!.store!, cleanup: () => group.close() };
});
