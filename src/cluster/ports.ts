// Free loopback ports for local clusters and tests.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The lowest port of the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), where it picks a
 * port for a listen on port 0 and for every outgoing connection. Read once; Linux's default when
 * unreadable.
 */
let ephemeralLow: number | null = null;
function lowestEphemeral(): number {
  if (ephemeralLow === null) {
    ephemeralLow = 32768;
    try {
      const low = Number(
        readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
      );
      if (Number.isInteger(low)) ephemeralLow = low;
    } catch {
      // not Linux, or no /proc: keep the default
    }
  }
  return ephemeralLow;
}

/** The lowest port freePort picks: above the well-known and most registered services' ports. */
const LOWEST = 10_000;

/**
 * A port that was free a moment ago; the caller binds it soon after. Picked at random below the
 * kernel's ephemeral range when there is room there, so that between this probe and the caller's
 * bind neither another server listening on port 0 nor an outgoing connection can be handed it (a
 * node of a bench group once failed to start with EADDRINUSE on its gRPC port that way). Falls back
 * to a port the OS picks.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const low = lowestEphemeral();
  if (low - LOWEST >= 1_000)
    for (let tries = 0; tries < 50; tries++) {
      const port = LOWEST + Math.floor(Math.random() * (low - LOWEST));
      if (await portIsFree(port, host)) return port;
    }
  return osPickedPort(host);
}

function osPickedPort(host: string): Promise<number> {
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
