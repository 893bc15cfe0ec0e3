// chorus cluster's port plan: fixed ports that would serve two things, or one already taken, are
// refused with both uses named; free ports are never handed out twice.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort, planPorts, portIsFree } from '../../../src/cluster/ports.ts';

void test('two uses of one fixed port are refused, naming both', async () => {
  // --port 50050 --api rest: node 1 REST is 50051 and node 0's gRPC would be 50051 too.
  await assert.rejects(
    planPorts('127.0.0.1', [
      { name: 'node 1 REST', port: 50051 },
      { name: 'node 1 gRPC', port: 50052 },
      { name: 'node 2 REST', port: 50052 },
    ]),
    /port 50052 would serve both node 1 gRPC and node 2 REST/,
  );
});

void test('a fixed port that is taken is named, with its use', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    await assert.rejects(
      planPorts('127.0.0.1', [{ name: 'node 3 gRPC', port }]),
      new RegExp(`port ${port} \\(node 3 gRPC\\) is taken`),
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

void test('free ports are all different and never a fixed one', async () => {
  const wanted = [
    { name: 'fixed', port: 0 },
    ...Array.from({ length: 20 }, (_, i) => ({ name: `n${i}`, port: 0 })),
  ];
  const ports = await planPorts('127.0.0.1', wanted);
  assert.equal(new Set(ports).size, ports.length);
});

void test('free ports come from below the ephemeral range, where port 0 and outgoing connections never land', async () => {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    assert.ok(port >= 10_000 && port < low, `port ${port} is outside 10000..${low - 1}`);
    assert.ok(await portIsFree(port), `port ${port} cannot be bound`);
  }
});
