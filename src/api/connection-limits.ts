// Connections a server takes, REST and gRPC alike: at most `maxConnections` in all (Node refuses
// more at once), and at most `maxConnectionsPerAddress` from one client address, so one client
// cannot use up the node's file descriptors and starve everyone else. (Behind a proxy every client
// shares the proxy's address: size the cap for the proxy's connection pool.) Each transport counts
// its own connections and says no its own way: REST answers 429 and closes, so a well-behaved client
// sees why; gRPC, which cannot answer before the HTTP/2 preface, closes the connection.

import type { Server, Socket } from 'node:net';
import { refusal, wireError } from '../domain/index.ts';

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
}

export interface Admission {
  /** A connection within the caps (called in the order connections arrive). */
  readonly admit?: (socket: Socket) => void;
  /** A connection over the per-address cap: say no and close it. */
  readonly refuse: (socket: Socket) => void;
}

export function admitConnections(server: Server, limits: ConnectionLimits, admission: Admission): void {
  server.maxConnections = limits.maxConnections;
  const perAddress = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const who = socket.remoteAddress ?? '';
    const open = (perAddress.get(who) ?? 0) + 1;
    if (open > limits.maxConnectionsPerAddress) {
      admission.refuse(socket);
      return;
    }
    perAddress.set(who, open);
    socket.once('close', () => {
      const left = (perAddress.get(who) ?? 1) - 1;
      if (left === 0) perAddress.delete(who);
      else perAddress.set(who, left);
    });
    admission.admit?.(socket);
  });
}

const BODY = JSON.stringify({ error: wireError(refusal('CONNECTIONS_PER_ADDRESS')) });
const REFUSED =
  'HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\nretry-after: 1\r\n' +
  `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`;

/** The REST server's caps: the HTTP server has its own connection listener; ours only refuses. */
export function limitHttpConnections(server: Server, limits: ConnectionLimits): void {
  admitConnections(server, limits, {
    refuse: (socket) => {
      socket.end(REFUSED);
      socket.destroySoon();
    },
  });
}
