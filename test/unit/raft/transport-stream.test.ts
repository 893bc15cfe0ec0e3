// The Raft transport's links (src/store/raft/link.ts): each node keeps one long-lived stream to
// each peer. Messages arrive whole and in the order they were sent, however they were batched; a
// link cut under way is reported unreachable on both ends (so a follower notices a dead leader at
// once) and opens again; a stream only ever speaks for the member it authenticated as.

import assert from 'node:assert/strict';
import {
  credentials,
  makeClientConstructor,
  Server,
  ServerCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import { after, test } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../../../bench/lib/fault-proxy.ts';
import { freePort } from '../../../src/cluster/ports.ts';
import type * as pb from '../../../src/api/grpc/generated/chorus/raft/v1/index.ts';
import { SILENT_LOGGER } from '../../../src/store/logger.ts';
import {
  authMetadata,
  RAFT_SERVICE,
  raftDefinition,
  RaftTransport,
  toWire,
  type TransportHandlers,
} from '../../../src/store/raft/transport.ts';
import { message, type Message } from '../../../src/store/raft/types.ts';

const SECRET = 'stream-test-secret-0123456789';

const servers: Server[] = [];
const proxies: FaultProxy[] = [];
const transports: RaftTransport[] = [];
after(async () => {
  for (const t of transports) t.close();
  for (const p of proxies) await p.close();
  for (const s of servers) s.forceShutdown();
});

interface Seen {
  readonly messages: Message[];
  readonly unreachable: string[];
}

function handlers(seen: Seen): TransportHandlers {
  return {
    onMessages: (ms) => seen.messages.push(...ms),
    onClientRequest: () => assert.fail('not used here'),
    onSnapshotDone: () => undefined,
    onUnreachable: (to) => seen.unreachable.push(to),
    onChangeMembership: () => Promise.reject(new Error('not used here')),
    onTransferLeader: () => Promise.reject(new Error('not used here')),
  };
}

async function waitUntil(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Node a sends to node b through a proxy; b serves the Raft service. */
async function pair(): Promise<{
  a: RaftTransport;
  b: RaftTransport;
  atA: Seen;
  atB: Seen;
  proxy: FaultProxy;
  port: number;
}> {
  const port = await freePort();
  const proxy = await startFaultProxy(port);
  proxies.push(proxy);
  const peers = [
    { id: 'a', address: '127.0.0.1:1' },
    { id: 'b', address: `127.0.0.1:${proxy.port}` },
  ];
  const atA: Seen = { messages: [], unreachable: [] };
  const atB: Seen = { messages: [], unreachable: [] };
  const b = new RaftTransport('b', peers, SECRET, handlers(atB), SILENT_LOGGER);
  const server = new Server();
  const service = b.service();
  server.addService(service.definition, service.handlers);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  servers.push(server);
  const a = new RaftTransport('a', peers, SECRET, handlers(atA), SILENT_LOGGER);
  transports.push(a, b);
  return { a, b, atA, atB, proxy, port };
}

const app = (index: number, from = 'a'): Message =>
  message({
    type: 'app',
    from,
    to: 'b',
    term: 1,
    index,
    entries: [{ term: 1, index: index + 1, type: 'normal', data: `{"n":${index}}` }],
  });

void test('messages to a peer arrive whole and in order, whatever the batching', async () => {
  const { a, atB } = await pair();
  let next = 0;
  // Sends of 1 to 50 messages, back to back, with no wait for the stream between them.
  for (let round = 0; round < 60; round++) {
    const batch: Message[] = [];
    for (let i = 0; i <= round % 50; i++) batch.push(app(next++));
    a.send(batch);
  }
  await waitUntil(`${next} messages at b`, () => atB.messages.length >= next);
  assert.equal(atB.messages.length, next);
  assert.deepEqual(
    atB.messages.map((m) => m.index),
    Array.from({ length: next }, (_, i) => i),
  );
  assert.equal(atB.messages[7]!.entries[0]!.data, '{"n":7}');
});

void test('a cut link is reported unreachable at both ends, then opens again and delivers', async () => {
  const { a, atA, atB, proxy } = await pair();
  a.send([app(0)]);
  await waitUntil('the first message', () => atB.messages.length === 1);
  proxy.cut();
  a.send([app(1)]); // lost with the link (Raft retransmits)
  await waitUntil(
    'both ends to see the link broken',
    () => atA.unreachable.includes('b') && atB.unreachable.includes('a'),
  );
  proxy.restore();
  // The link comes back on its own after its back-off: a message sent later arrives.
  await waitUntil('a message over the reopened link', () => {
    a.send([app(2)]);
    return atB.messages.some((m) => m.index === 2);
  });
});

void test('a stream carries only its own authenticated sender, and only while it is a member', async () => {
  const { b, atB, port } = await pair();
  const Ctor = makeClientConstructor(raftDefinition(), RAFT_SERVICE);
  const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as pb.RaftClient;
  /** The status the server ends the stream with ('no answer' if it leaves it open for 5 s). */
  const refused = (
    write: (s: ReturnType<pb.RaftClient['Stream']>) => void,
  ): Promise<number | string | null> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve('no answer'), 5_000);
      const s = client.Stream(authMetadata(SECRET, 'a'), (err: ServiceError | null) => {
        clearTimeout(timer);
        resolve(err?.code ?? null);
      });
      write(s);
    });
  try {
    // a's stream claiming a message from c: refused.
    const forged = await refused((s) => s.write({ messages: [toWire({ ...app(0), from: 'c' })] }));
    assert.equal(forged, 16); // UNAUTHENTICATED
    // a removed from b's membership while its stream is open: its next batch is refused.
    const afterRemoval = await refused((s) => {
      s.write({ messages: [toWire(app(1))] });
      void waitUntil('the first batch', () => atB.messages.some((m) => m.index === 1)).then(() => {
        b.removePeer('a');
        s.write({ messages: [toWire(app(2))] });
      });
    });
    assert.equal(afterRemoval, 16);
    assert.ok(!atB.messages.some((m) => m.index === 2 || m.from === 'c'));
  } finally {
    client.close();
  }
});

void test('a peer shutting down gracefully is not held open by the stream into it', async () => {
  const { a, atB, port } = await pair();
  a.send([app(0)]);
  await waitUntil('the first message', () => atB.messages.length === 1);
  const server = servers.at(-1)!;
  let closed = false;
  server.tryShutdown(() => (closed = true)); // waits for every open call, our link's stream too
  await waitUntil('the server to finish its shutdown', () => closed);
  assert.ok(port > 0);
});
