// Connections a REST server takes: at most `maxConnections` in all (Node refuses more at once), and
// at most `maxConnectionsPerAddress` from one client address, so one client cannot use up the
// node's file descriptors and starve everyone else. A connection over the per-address cap is
// answered 429 and closed, so a well-behaved client sees why. (Behind a proxy every client shares
// the proxy's address: size the cap for the proxy's connection pool.)

import type { Server } from 'node:http';
import { refusal, wireError } from '../../domain/index.ts';

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
}

const BODY = JSON.stringify({ error: wireError(refusal('CONNECTIONS_PER_ADDRESS')) });
const REFUSED =
  'HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\nretry-after: 1\r\n' +
  `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`;

export function limitConnections(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.maxConnections;
  const perAddress = new Map<string, number>();
  server.on('connection', (socket) => {
    const who = socket.remoteAddress ?? '';
    const open = (perAddress.get(who) ?? 0) + 1;
    if (open > limits.maxConnectionsPerAddress) {
      socket.end(REFUSED);
      socket.destroySoon();
      return;
    }
    perAddress.set(who, open);
    socket.once('close', () => {
      const left = (perAddress.get(who) ?? 1) - 1;
      if (left === 0) perAddress.delete(who);
      else perAddress.set(who, left);
    });
  });
}
