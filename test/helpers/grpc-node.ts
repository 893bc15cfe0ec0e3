// A real `chorus serve` child process for the gRPC integration tests: any free REST and gRPC ports,
// a fresh data dir, both endpoints read from its stdout, and a graceful stop. The process handling
// is test/helpers/chorus-process.ts; this adds the gRPC stubs.

import type { ChildProcess } from 'node:child_process';
import { connect, type Stubs } from '../../src/api/grpc/client.ts';
import { startChorus } from './chorus-process.ts';

export { CHORUS_MAIN, REPO_ROOT } from './chorus-process.ts';

export interface GrpcNode {
  readonly restUrl: string;
  readonly grpcAddress: string;
  readonly dataDir: string;
  /** Stubs of every service, on one channel (closed by stop()). */
  readonly stubs: Stubs;
  readonly child: ChildProcess;
  /** True until the process has exited. */
  running(): boolean;
  stderr(): string;
  /** Sends SIGTERM once (a second SIGTERM would make chorus exit at once, on purpose). */
  terminate(): void;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** terminate(), then the exit code (SIGKILL after `timeoutMs`); closes the stubs. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** A `chorus serve` with both endpoints (test/helpers/chorus-process.ts), plus gRPC stubs. */
export async function startGrpcNode(
  args: readonly string[] = [],
  startTimeoutMs = 30_000,
): Promise<GrpcNode> {
  const p = await startChorus({ args, startTimeoutMs, waitForGrpc: true });
  const grpcAddress = p.grpcAddress!;
  const stubs = connect(grpcAddress);
  // One SIGTERM only: a second one means "exit now" to chorus (stop() knows one was sent).
  let terminated = false;
  const terminate = (): void => {
    if (terminated || !p.running) return;
    terminated = true;
    p.signal('SIGTERM');
  };
  return {
    restUrl: p.restUrl,
    grpcAddress,
    dataDir: p.dataDir!,
    stubs,
    child: p.child,
    running: () => p.running,
    stderr: () => p.stderr(),
    terminate,
    exited: p.exited.then((info) => info.code),
    async stop(timeoutMs = 20_000) {
      stubs.close();
      if (!p.running) return (await p.exited).code;
      return p.stop(timeoutMs);
    },
  };
}
