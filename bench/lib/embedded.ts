// One embedded `chorus serve` for the single-node tools (bench/profile-node.ts, bench/rest-cpu.ts):
// started from a given source tree with the saturation part's flags (memory store, no legacy API,
// warnings only), on ports of its own, ready when it prints its gRPC address.

import { join } from 'node:path';
import { spawnProcess, stopProcess, waitForLine, type Spawned } from '../../src/cluster/process.ts';

export interface EmbeddedNode {
  readonly process: Spawned;
  /** The REST base URL and the gRPC address it printed. */
  readonly rest: string;
  readonly grpc: string;
}

/** Starts `chorus serve` of the tree at `root` on `dataDir`; `nodeFlags` go to Node (e.g. --cpu-prof). */
export async function startEmbeddedNode(
  root: string,
  dataDir: string,
  nodeFlags: readonly string[] = [],
): Promise<EmbeddedNode> {
  const node = spawnProcess(process.execPath, [
    ...nodeFlags,
    join(root, 'src/cli/main.ts'),
    'serve',
    '--port',
    '0',
    '--grpc-port',
    '0',
    '--data-dir',
    dataDir,
    '--log-level',
    'warn',
    '--no-legacy',
  ]);
  try {
    await waitForLine(node, /^grpc /, 60_000, 'chorus serve');
  } catch (err) {
    await stopProcess(node, 30_000);
    throw err;
  }
  const line = (prefix: string): string =>
    new RegExp(`^${prefix} (\\S+)`).exec(node.lines.find((l) => l.startsWith(`${prefix} `)) ?? '')?.[1] ?? '';
  return { process: node, rest: line('rest'), grpc: line('grpc') };
}
