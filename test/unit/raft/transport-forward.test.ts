// Forwarded writes on the peer links (forwarding.ts). A follower's forward whose link to the leader
// is lost after it left: the leader may have proposed it, so the follower must not answer
// UNAVAILABLE ("nothing was applied") but DEADLINE_EXCEEDED (outcome unknown; a retry with the same
// command id is safe). Found by the fault harness (npm run verify -- --store raft --nodes 5
// --seconds 60 --nemesis kill,pause,partition --seed 42): an add answered 503 during a partition
// was in the room after. A leader's own refusal (its UNAVAILABLE, as it raised it) and a link that
// never connected (nothing left) stay UNAVAILABLE. Many forwards of one turn share a batch and
// come back in order of their own ids, whatever order the leader answers in.
// Rolling upgrades: a leader of the version before forwards on links (played by a transport with
// `takesForwards: false`: it ignores them, as its protobuf drops the unknown field) does not say
// it takes them when it opens its link to the follower, so the follower forwards to it as one unary
// ClientRequest each; without that fallback such writes failed DEADLINE_EXCEEDED after 5 s.

import assert from 'node:assert/strict';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { after, test } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../../../bench/lib/fault-proxy.ts';
import { freePort } from '../../../src/cluster/ports.ts';
import type * as pb from '../../../src/api/grpc/generated/chorus/raft/v1/index.ts';
import { ChorusError } from '../../../src/domain/index.ts';
import { SILENT_LOGGER } from '../../../src/store/logger.ts';
import type { Proposed } from '../../../src/store/raft/forwarding.ts';
import { RaftTransport, type TransportHandlers } from '../../../src/store/raft/transport.ts';
import { message } from '../../../src/store/raft/types.ts';
import { until } from '../../helpers/until.ts';

const SECRET = 'forward-test-secret-0123456789';

const servers: Server[] = [];
const proxies: FaultProxy[] = [];
const transports: RaftTransport[] = [];
after(async () => {
  for (const t of transports) t.close();
  for (const p of proxies) await p.close();
  for (const s of servers) s.forceShutdown();
});

function handlers(
  onClientRequest: TransportHandlers['onClientRequest'],
  onMessages: TransportHandlers['onMessages'] = () => undefined,
): TransportHandlers {
  return {
    onMessages,
    onClientRequest,
    onSnapshotDone: () => undefined,
    onUnreachable: () => undefined,
    onChangeMembership: () => Promise.reject(new Error('not used here')),
    onTransferLeader: () => Promise.reject(new Error('not used here')),
  };
}

/** Serves `transport`'s Raft service; `unary` counts the ClientRequest calls it was sent. */
async function serve(transport: RaftTransport, port: number, unary = { calls: 0 }): Promise<void> {
  const server = new Server();
  const service = transport.service();
  const handlers = service.handlers as pb.RaftHandlers;
  const clientRequest = handlers.ClientRequest;
  const counted: pb.RaftHandlers = {
    ...handlers,
    ClientRequest: (call, callback) => {
      unary.calls++;
      clientRequest(call, callback);
    },
  };
  server.addService(service.definition, counted);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  servers.push(server);
}

/**
 * A "leader" b serving the Raft service with `onClientRequest`; a follower a (serving too: the
 * answers come back on b's link to a) reaching b through a proxy. As in a group, the follower has
 * heard from its leader (a heartbeat on b's link to a) before it forwards anything.
 */
async function pair(
  onClientRequest: (command: string) => Promise<Proposed>,
  leaderTakesForwards = true,
): Promise<{
  follower: RaftTransport;
  proxy: FaultProxy;
  unary: { calls: number };
}> {
  const port = await freePort();
  const followerPort = await freePort();
  const proxy = await startFaultProxy(port);
  proxies.push(proxy);
  const peers = [
    { id: 'a', address: `127.0.0.1:${followerPort}` },
    { id: 'b', address: `127.0.0.1:${proxy.port}` },
  ];
  // The store answers through a callback; here each outcome is the promise's.
  const answering: TransportHandlers['onClientRequest'] = (command, answer) => {
    onClientRequest(command).then(
      (ok) => answer({ ok }),
      (error: unknown) => answer({ error }),
    );
  };
  const leader = new RaftTransport('b', peers, SECRET, handlers(answering), SILENT_LOGGER, {
    takesForwards: leaderTakesForwards,
  });
  transports.push(leader);
  const unary = { calls: 0 };
  await serve(leader, port, unary);
  let heard = 0;
  const follower = new RaftTransport(
    'a',
    peers,
    SECRET,
    handlers(
      () => undefined, // a follower: never asked
      (ms) => (heard += ms.length),
    ),
    SILENT_LOGGER,
  );
  transports.push(follower);
  await serve(follower, followerPort);
  leader.send([message({ type: 'heartbeat', from: 'b', to: 'a', term: 1 })]);
  await until('the follower hears its leader', () => heard > 0);
  return { follower, proxy, unary };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof ChorusError, String(err));
    return err.code;
  }
}

void test('a forward cut off after it reached the leader is DEADLINE_EXCEEDED, not UNAVAILABLE', async () => {
  let reached!: () => void;
  const arrived = new Promise<void>((resolve) => (reached = resolve));
  const { follower, proxy } = await pair(() => {
    reached();
    return new Promise(() => undefined); // proposed, answer not back yet
  });
  const forwarded = codeOf(follower.forward('b', '{}'));
  await arrived;
  proxy.cut();
  assert.equal(await forwarded, 'DEADLINE_EXCEEDED');
});

void test("the leader's own refusal stays UNAVAILABLE", async () => {
  const { follower } = await pair(() => Promise.reject(new ChorusError('UNAVAILABLE', 'not the leader')));
  assert.equal(await codeOf(follower.forward('b', '{}')), 'UNAVAILABLE');
});

void test('a forward that never reached the leader (no connection) stays UNAVAILABLE', async () => {
  const { follower, proxy } = await pair(() => Promise.resolve({ index: 1, term: 1 }));
  proxy.cut();
  assert.equal(await codeOf(follower.forward('b', '{}')), 'UNAVAILABLE');
});

void test('forwards of one turn reach the leader together, and each gets its own answer', async () => {
  const seen: string[] = [];
  const batches: number[] = [];
  let last = -1;
  const { follower, unary } = await pair((command) => {
    // Commands handed over in the same turn (one batch) arrive without a turn between them.
    const turn = turns;
    if (turn !== last) batches.push(0);
    last = turn;
    batches[batches.length - 1]!++;
    seen.push(command);
    const n = Number(command);
    // The leader answers out of order, and refuses the odd ones.
    return new Promise((resolve, reject) =>
      setTimeout(
        () =>
          n % 2 === 0
            ? resolve({ index: 100 + n, term: 7 })
            : reject(new ChorusError('FAILED_PRECONDITION', `no ${n}`, { n }, 'SOME_REASON')),
        (20 - n) * 5,
      ),
    );
  });
  let turns = 0;
  const ticking = setInterval(() => turns++, 0);
  try {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        follower.forward('b', String(n)).then(
          (at) => `ok ${at.index}/${at.term}`,
          (err: ChorusError) => `${err.code} ${err.message} ${JSON.stringify(err.details)} ${err.reason}`,
        ),
      ),
    );
    assert.deepEqual(
      answers,
      Array.from({ length: 20 }, (_, n) =>
        n % 2 === 0 ? `ok ${100 + n}/7` : `FAILED_PRECONDITION no ${n} {"n":${n}} SOME_REASON`,
      ),
    );
    assert.deepEqual(
      seen,
      Array.from({ length: 20 }, (_, n) => String(n)),
      'in order',
    );
    assert.deepEqual(batches, [20], 'all in one batch');
    assert.equal(unary.calls, 0, 'none as a unary ClientRequest');
  } finally {
    clearInterval(ticking);
  }
});

void test('to a leader that does not take forwards on its link (an older version), each goes as a unary ClientRequest', async () => {
  const seen: string[] = [];
  const { follower, unary } = await pair((command) => {
    seen.push(command);
    const n = Number(command);
    return n % 2 === 0
      ? Promise.resolve({ index: 100 + n, term: 7 })
      : Promise.reject(new ChorusError('FAILED_PRECONDITION', `no ${n}`, { n }, 'SOME_REASON'));
  }, false);
  const answers = await Promise.all(
    Array.from({ length: 6 }, (_, n) =>
      follower.forward('b', String(n)).then(
        (at) => `ok ${at.index}/${at.term}`,
        // (gRPC's error trailer carries the reason among the details too)
        (err: ChorusError) => `${err.code} ${err.message} n=${String(err.details?.n)} ${err.reason}`,
      ),
    ),
  );
  assert.deepEqual(
    answers,
    Array.from({ length: 6 }, (_, n) =>
      n % 2 === 0 ? `ok ${100 + n}/7` : `FAILED_PRECONDITION no ${n} n=${n} SOME_REASON`,
    ),
  );
  assert.deepEqual(seen.sort(), ['0', '1', '2', '3', '4', '5'], 'each taken once');
  assert.equal(unary.calls, 6);
});

void test('a unary forward cut off after it reached the old leader is DEADLINE_EXCEEDED; never connected, UNAVAILABLE', async () => {
  let reached!: () => void;
  const arrived = new Promise<void>((resolve) => (reached = resolve));
  const { follower, proxy } = await pair(() => {
    reached();
    return new Promise(() => undefined);
  }, false);
  const forwarded = codeOf(follower.forward('b', '{}'));
  assert.equal(await Promise.race([arrived.then(() => 'arrived'), forwarded]), 'arrived');
  proxy.cut();
  assert.equal(await forwarded, 'DEADLINE_EXCEEDED');
  assert.equal(await codeOf(follower.forward('b', '{}')), 'UNAVAILABLE');
});
