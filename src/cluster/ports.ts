// Free loopback ports for local clusters and tests.

import { createServer } from 'node:net';

/** A port that was free a moment ago (the OS picks it); the caller binds it soon after. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not find a free port'));
      });
    });
  });
}

/** True when `port` can be bound on `host` right now. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export interface PortRequest {
  /** What the port is for, in the words of an error message ("node 2 gRPC"). */
  readonly name: string;
  /** A fixed port, or 0 for any free one. */
  readonly port: number;
}

/**
 * Ports for a cluster: fixed ones as asked, free ones picked one at a time so no two are the same.
 * Throws, naming both uses, when two fixed ports are the same, and naming the use of a fixed port
 * that is taken (rather than letting a node fail later with EADDRINUSE).
 */
export async function planPorts(host: string, wanted: readonly PortRequest[]): Promise<number[]> {
  const owner = new Map<number, string>();
  for (const w of wanted) {
    if (w.port === 0) continue;
    const other = owner.get(w.port);
    if (other !== undefined)
      throw new Error(
        `port ${w.port} would serve both ${other} and ${w.name}: choose --port and --grpc-port further apart (or 0 for free ports)`,
      );
    owner.set(w.port, w.name);
  }
  for (const [port, name] of owner)
    if (!(await portIsFree(port, host))) throw new Error(`port ${port} (${name}) is taken on ${host}`);
  const chosen: number[] = [];
  for (const w of wanted) {
    if (w.port !== 0) {
      chosen.push(w.port);
      continue;
    }
    let port = await freePort(host);
    for (let tries = 0; owner.has(port) && tries < 100; tries++) port = await freePort(host);
    owner.set(port, w.name);
    chosen.push(port);
  }
  return chosen;
}
