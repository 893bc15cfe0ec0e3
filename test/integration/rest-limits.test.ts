// What one client may hold of a node: a request trickled a byte at a time is cut off, one address
// cannot take every connection, live streams are capped in number, and a stream that never reads is
// cut off once its backlog passes its bound, so never-read streams cannot grow the node's memory.
// All on a real `chorus serve`, with clients on other loopback addresses (127.0.0.2 …) beside a
// well-behaved one on 127.0.0.1.

import { Client, credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { STREAM_LIMITS } from '../../src/api/stream-budget.ts';
import { cleanupChorus, startChorus } from '../helpers/chorus-process.ts';

import { until } from '../helpers/until.ts';

after(cleanupChorus);

interface RawClient {
  readonly socket: Socket;
  /** Everything the server sent (while the socket is read). */
  received(): string;
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

/** A raw TCP client from `localAddress`, so the node sees it as a client of its own. */
function rawClient(url: string, localAddress: string, request?: string): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let text = '';
    let closed = false;
    const socket = connect({ host: hostname, port: Number(port), localAddress }, () => {
      if (request !== undefined) socket.write(request);
      resolve({ socket, received: () => text, closed: closedPromise, isClosed: () => closed });
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    const closedPromise = new Promise<void>((r) =>
      socket.once('close', () => {
        closed = true;
        r();
      }),
    );
    socket.once('error', (err) => {
      if (!closed) reject(err);
    });
  });
}

async function health(url: string): Promise<number> {
  const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
  return response.status;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `metric ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

void test('a request trickled one byte at a time is cut off after --request-timeout-ms; others are served meanwhile', async () => {
  const node = await startChorus({ args: ['--request-timeout-ms', '2000'] });
  const slow: RawClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    for (let i = 0; i < 50; i++) {
      const client = await rawClient(
        node.restUrl,
        '127.0.0.2',
        'POST /v1/rooms HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{',
      );
      client.socket.on('error', () => undefined);
      // One more byte every half second, for at most 30 s (bounded even if never cut).
      let sent = 0;
      const timer = setInterval(() => {
        if (client.isClosed() || sent++ > 60) return clearInterval(timer);
        client.socket.write(' ');
      }, 500);
      timers.push(timer);
      slow.push(client);
    }
    assert.equal(await health(node.restUrl), 200, 'a fresh client is answered while 50 requests trickle');
    await until('every trickled request to be cut off', () => slow.every((c) => c.isClosed()), {
      timeoutMs: 20_000,
    });
    const answered = slow.filter((c) => c.received().startsWith('HTTP/1.1 408')).length;
    console.log(`50 trickled requests cut off; ${answered} were answered 408 first`);
    assert.equal(await health(node.restUrl), 200);
  } finally {
    for (const t of timers) clearInterval(t);
    for (const c of slow) c.socket.destroy();
    await node.stop();
  }
});

void test('one address cannot take more than --max-connections-per-address; the rest are answered 429', async () => {
  const node = await startChorus({ args: ['--max-connections-per-address', '20'] });
  const clients: RawClient[] = [];
  try {
    for (let i = 0; i < 30; i++) {
      const client = await rawClient(node.restUrl, '127.0.0.3');
      client.socket.on('error', () => undefined);
      clients.push(client);
    }
    await until(
      'the connections over the cap to be closed',
      () => clients.filter((c) => c.isClosed()).length >= 10,
      { timeoutMs: 10_000 },
    );
    // Give a wrongly refused 21st connection time to show up as closed too.
    await new Promise((r) => setTimeout(r, 300));
    const refused = clients.filter((c) => c.isClosed());
    assert.equal(refused.length, 10, 'exactly the 10 over the cap are closed');
    for (const c of refused) {
      assert.match(c.received(), /^HTTP\/1\.1 429 /, 'a refused connection is told why');
      assert.match(c.received(), /RESOURCE_EXHAUSTED/);
    }
    assert.equal(await health(node.restUrl), 200, 'another address is still served');
    // A connection freed on the capped address makes room for a new one there.
    clients.find((c) => !c.isClosed())!.socket.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const again = await rawClient(node.restUrl, '127.0.0.3', 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await until(
      'an answer on the freed slot',
      () => (again.received().includes('\r\n\r\n') ? true : undefined),
      { timeoutMs: 5000 },
    );
    assert.match(again.received(), /^HTTP\/1\.1 200 /);
    again.socket.destroy();
  } finally {
    for (const c of clients) c.socket.destroy();
    await node.stop();
  }
});

void test('gRPC: one address cannot hold more than --max-connections-per-address; another is served', async () => {
  const node = await startChorus({ args: ['--max-connections-per-address', '5'], waitForGrpc: true });
  const grpcUrl = `http://${node.grpcAddress!}`;
  const clients: RawClient[] = [];
  const probe = new Client(node.grpcAddress!, credentials.createInsecure());
  try {
    for (let i = 0; i < 8; i++) {
      const client = await rawClient(grpcUrl, '127.0.0.5');
      client.socket.on('error', () => undefined);
      clients.push(client);
    }
    await until(
      'the connections over the cap to be closed',
      () => clients.filter((c) => c.isClosed()).length >= 3,
      { timeoutMs: 10_000 },
    );
    // Give a wrongly refused sixth connection time to show up as closed too.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(clients.filter((c) => c.isClosed()).length, 3, 'exactly the 3 over the cap are closed');
    // A gRPC client from another address still gets a connection (the HTTP/2 handshake completes).
    await new Promise<void>((resolve, reject) =>
      probe.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())),
    );
  } finally {
    probe.close();
    for (const c of clients) c.socket.destroy();
    await node.stop();
  }
});

void test('live streams beyond --max-streams are refused RESOURCE_EXHAUSTED; a closed one makes room', async () => {
  const node = await startChorus({ args: ['--max-streams', '5'] });
  const streams: RawClient[] = [];
  try {
    const created = await fetch(`${node.restUrl}/v1/rooms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ roomId: 'capped', name: 'Capped', hostName: 'Ann' }),
    });
    assert.equal(created.status, 201);
    const open = async (): Promise<RawClient> => {
      const c = await rawClient(
        node.restUrl,
        '127.0.0.4',
        'GET /v1/rooms/capped/events HTTP/1.1\r\nhost: x\r\n\r\n',
      );
      await until('the stream to answer', () => (c.received().includes('\r\n\r\n') ? true : undefined), {
        timeoutMs: 5000,
      });
      return c;
    };
    for (let i = 0; i < 5; i++) {
      const c = await open();
      assert.match(c.received(), /^HTTP\/1\.1 200 /, `stream ${i + 1} is served`);
      streams.push(c);
    }
    const sixth = await open();
    assert.match(sixth.received(), /^HTTP\/1\.1 429 /, 'the sixth stream is refused');
    assert.match(sixth.received(), /RESOURCE_EXHAUSTED/);
    sixth.socket.destroy();
    streams.shift()!.socket.destroy();
    await until(
      'the node to count the closed stream',
      async () => (await metric(node.restUrl, 'chorus_sse_connections')) === 4,
      { timeoutMs: 5000 },
    );
    const seventh = await open();
    assert.match(seventh.received(), /^HTTP\/1\.1 200 /, 'a stream is served again once one closed');
    streams.push(seventh);
  } finally {
    for (const c of streams) c.socket.destroy();
    await node.stop();
  }
});

void test('streams that never read are cut off at their bound while writes go on; the node stays within its budget', async () => {
  // The host writes as fast as it can here: its write rate is not what this test is about.
  const node = await startChorus({ args: ['--writes-per-member', '1000000'] });
  const readers: RawClient[] = [];
  try {
    const created = await fetch(`${node.restUrl}/v1/rooms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        roomId: 'flooded',
        name: 'Flooded',
        hostName: 'Ann',
        settings: { maxQueueLength: 100_000, autoplay: false, voteOffThreshold: 0 },
      }),
    });
    assert.equal(created.status, 201);
    const { token } = (await created.json()) as { token: string };
    for (let i = 0; i < 10; i++) {
      const c = await rawClient(
        node.restUrl,
        '127.0.0.5',
        'GET /v1/rooms/flooded/events HTTP/1.1\r\nhost: x\r\n\r\n',
      );
      c.socket.on('error', () => undefined);
      // Never read: the kernel's buffers fill, then the node's.
      c.socket.pause();
      readers.push(c);
    }
    await until(
      'the node to count the streams',
      async () => (await metric(node.restUrl, 'chorus_sse_connections')) === 10,
      { timeoutMs: 5000 },
    );
    const long = 'x'.repeat(300);
    let maxWaiting = 0;
    let adds = 0;
    // Large entries until the streams are cut; bounded: 6,000 adds is ~18 MB per stream.
    for (; adds < 6000; adds++) {
      const response = await fetch(`${node.restUrl}/v1/rooms/flooded/queue`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          track: {
            trackId: `big:${adds}`,
            title: long,
            artist: long,
            album: long,
            durationMs: 60_000,
            artworkUrl: `https://example.invalid/${'a'.repeat(1900)}`,
          },
        }),
      });
      assert.equal(response.status, 201, await response.text());
      if (adds % 200 === 199) {
        maxWaiting = Math.max(maxWaiting, await metric(node.restUrl, 'chorus_stream_waiting_bytes'));
        if ((await metric(node.restUrl, 'chorus_sse_connections')) === 0) break;
      }
    }
    const left = await metric(node.restUrl, 'chorus_sse_connections');
    console.log(
      `never-read streams: all cut after ${adds + 1} adds; most waiting at a look ${maxWaiting} bytes`,
    );
    assert.equal(left, 0, `every never-read stream is cut off (after ${adds + 1} adds)`);
    assert.ok(maxWaiting <= STREAM_LIMITS.totalBytes, `waiting bytes ${maxWaiting} within the budget`);
    assert.equal(await metric(node.restUrl, 'chorus_stream_waiting_bytes'), 0, 'their backlog is released');
    assert.equal(await health(node.restUrl), 200);
  } finally {
    for (const c of readers) c.socket.destroy();
    await node.stop();
  }
});
