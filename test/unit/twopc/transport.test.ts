// The 2PC transport's node-to-node authentication: a call is delivered only with a fresh HMAC of
// the cluster secret naming its sender; without one, with another secret, or claiming another
// sender, it is refused UNAUTHENTICATED before the core sees it. Over a real gRPC server.

import assert from 'node:assert/strict';
import {
  credentials,
  makeClientConstructor,
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServiceError,
} from '@grpc/grpc-js';
import { describe, test } from 'node:test';
import { freePort } from '../../../src/cluster/ports.ts';
import {
  PeerLinks,
  peerMetadata,
  twoPcPeerServices,
  verifyPeer,
} from '../../../src/store/twopc/transport.ts';
import type { Message } from '../../../src/store/twopc/types.ts';

import { until } from '../../helpers/until.ts';

const SECRET = 'the-cluster-secret-0123456789';

void describe('2PC transport authentication', () => {
  void test('verifyPeer accepts its own metadata only, for the method, secret and time it was made', () => {
    const md = peerMetadata(SECRET, 'RequestVote', 'n1', 1_000_000);
    assert.equal(verifyPeer(SECRET, 'RequestVote', md, 1_000_000), 'n1');
    assert.equal(verifyPeer('another-secret-0123456789', 'RequestVote', md, 1_000_000), null);
    assert.equal(verifyPeer(SECRET, 'GlobalDecision', md, 1_000_000), null, 'bound to its method');
    assert.equal(verifyPeer(SECRET, 'RequestVote', md, 1_000_000 + 3_600_000), null, 'stale');
    assert.equal(verifyPeer(SECRET, 'RequestVote', new Metadata(), 1_000_000), null);
  });

  void test('a peer service refuses calls without a valid HMAC and delivers those with one', async () => {
    const delivered: Message[] = [];
    const server = new Server();
    const services = twoPcPeerServices(SECRET, (m) => delivered.push(m) > 0);
    for (const s of services) server.addService(s.definition, s.handlers);
    const address = `127.0.0.1:${await freePort()}`;
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    const vote = services.find((s) => s.name === 'chorus.twopc.v1.VotePhase')!;
    const Client = makeClientConstructor(vote.definition, vote.name);
    const client = new Client(address, credentials.createInsecure());
    const call = (md: Metadata, from: string): Promise<ServiceError | null> =>
      new Promise((resolve) => {
        const request = { from, to: 'n2', txn: 't#1', yes: true, position: 3 };
        const invoke = (client as unknown as Record<string, (...a: unknown[]) => void>).Vote!.bind(client);
        invoke(request, md, { deadline: Date.now() + 10_000 }, (err: ServiceError | null) => resolve(err));
      });
    try {
      assert.equal((await call(new Metadata(), 'n1'))?.code, status.UNAUTHENTICATED, 'no HMAC');
      const wrong = peerMetadata('not-the-cluster-secret-000', 'Vote', 'n1');
      assert.equal((await call(wrong, 'n1'))?.code, status.UNAUTHENTICATED, 'another secret');
      const other = peerMetadata(SECRET, 'Vote', 'n3');
      assert.equal((await call(other, 'n1'))?.code, status.UNAUTHENTICATED, 'claims another sender');
      assert.equal(delivered.length, 0);
      assert.equal(await call(peerMetadata(SECRET, 'Vote', 'n1'), 'n1'), null);
      assert.deepEqual(delivered, [
        { type: 'Vote', from: 'n1', to: 'n2', txn: 't#1', yes: true, position: 3 },
      ]);

      // PeerLinks sends every message type through the right call, authenticated.
      const links = new PeerLinks({
        self: 'n1',
        peers: [{ id: 'n2', address }],
        secret: SECRET,
        deadlineMs: 10_000,
      });
      const sent: Message[] = [
        {
          type: 'RequestVote',
          from: 'n1',
          to: 'n2',
          txn: 'a#1',
          participants: ['n1', 'n2'],
          room: 'r',
          version: 2,
          command: new Uint8Array([1, 2, 3]),
        },
        { type: 'GlobalDecision', from: 'n1', to: 'n2', txn: 'a#1', outcome: 'commit' },
        { type: 'DecisionReply', from: 'n1', to: 'n2', txn: 'a#1', outcome: 'unknown' },
        { type: 'CatchUpRequest', from: 'n1', to: 'n2', positions: { r: 4 } },
        {
          type: 'CatchUpReply',
          from: 'n1',
          to: 'n2',
          entries: [{ txn: 'b#1', room: 'r', version: 5, command: new Uint8Array([9]) }],
          complete: true,
        },
        { type: 'Ping', from: 'n1', to: 'n2', reply: false },
      ];
      delivered.length = 0;
      for (const m of sent) links.send(m);
      await until('every message delivered', () => delivered.length === sent.length, { timeoutMs: 10_000 });
      links.close();
      const byType = (t: string): Message | undefined => delivered.find((m) => m.type === t);
      for (const m of sent) assert.deepEqual(byType(m.type), m);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
