// Peers of a consensus group, as `--node-id` and `--peers` give them: parsed once, every problem said.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseNodeConfig } from '../../../src/node/config.ts';

const problemsOf = (raw: Record<string, string>): readonly string[] => {
  try {
    parseNodeConfig(raw);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
};

void test('--peers lists every member with its gRPC address; --node-id names this one among them', () => {
  const config = parseNodeConfig({
    nodeId: 'n2',
    peers: 'n1=127.0.0.1:50052, n2=127.0.0.1:50053,n3=[::1]:50054',
  });
  assert.equal(config.nodeId, 'n2');
  assert.deepEqual(config.peers, [
    { id: 'n1', address: '127.0.0.1:50052' },
    { id: 'n2', address: '127.0.0.1:50053' },
    { id: 'n3', address: '[::1]:50054' },
  ]);
  const plain = parseNodeConfig({});
  assert.equal(plain.nodeId, null);
  assert.deepEqual(plain.peers, []);
});

void test('bad peers are refused, each problem named', () => {
  assert.deepEqual(problemsOf({ nodeId: 'n1', peers: 'n1=h:1,n1=h:2' }), ['--peers names n1 twice']);
  assert.match(problemsOf({ nodeId: 'n1', peers: 'n1=h:1,oops' }).join(), /"oops" is not ID=HOST:PORT/);
  assert.match(problemsOf({ nodeId: 'n1', peers: 'n1=h:1,N_2=h:2' }).join(), /"N_2" is not a node id/);
  assert.match(problemsOf({ nodeId: 'n1', peers: 'n1=h:0' }).join(), /port of n1/);
  assert.match(problemsOf({ peers: 'n1=h:1' }).join(), /--peers needs --node-id/);
  assert.match(problemsOf({ nodeId: 'n9', peers: 'n1=h:1' }).join(), /must list this node/);
  assert.match(problemsOf({ nodeId: 'Bad Id' }).join(), /--node-id must be/);
});
