// gRPC through `chorus cluster --api both` with real processes (redis-server, nginx with grpc_pass,
// five `chorus serve` nodes):
// - 20 gRPC clients, each on a channel (and connection) of its own, make 2,000 mixed calls through
//   nginx over 3 rooms; afterwards every node, asked directly over gRPC and over REST, answers the
//   same room at the same version, equal to replaying the room's Redis stream through `apply`, and
//   every acknowledged add, vote and remove is reflected.
// - A Watch through nginx sees REST writes made directly on each node within a second; a Watch
//   cancelled and resumed with `after_version` (through nginx, and directly on every node) misses
//   nothing and repeats nothing: the messages of all the sessions together are exactly the events
//   the replayed stream produces, one message per version.
// - One node SIGKILLed mid-load: only calls in flight at the kill fail (UNAVAILABLE or INTERNAL from
//   nginx), nothing acknowledged is lost, the supervisor restarts the node and it catches up.

import { status, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { callMetadata as md, connect, unaryCall, type Stubs } from '../../src/api/grpc/client.ts';
import { toPbEvent } from '../../src/api/grpc/convert-events.ts';
import { toPbRoom } from '../../src/api/grpc/convert.ts';
import { ERROR_CODE_KEY } from '../../src/api/grpc/errors.ts';
import type * as pb from '../../src/api/grpc/generated/chorus/v1/index.ts';
import type * as health from '../../src/api/grpc/generated/grpc/health/v1/index.ts';
import { loadProtos } from '../../src/api/grpc/protos.ts';
import { apply, viewRoom, type Envelope, type RoomEvent, type RoomState } from '../../src/domain/index.ts';
import {
  archiveLogs,
  assertAcknowledgedWritesKept,
  assertNodesAgree,
  call,
  percentile,
  replayFromRedis,
  roomPath,
  runMixedLoad,
  startCluster,
  summarise,
  type ClusterNode,
  type LoadAnswer,
  type LoadClient,
  type LoadResult,
  type LoadRoom,
  type LogArchive,
  type ReplayedRoom,
  type RunningLoad,
  type StartedCluster,
} from '../helpers/cluster.ts';
import { until } from '../helpers/until.ts';

const NODES = 5;
const CLIENTS = 20;
const OPERATIONS = 2000;
/** Every call has a deadline, so a hung call fails the test instead of hanging it. */
const CALL_MS = 10_000;
/**
 * grpc-js shares connections between channels to the same target with the same options; a local
 * subchannel pool gives each client its own connection to nginx, as separate programs would have.
 */
const OWN_CONNECTION: ChannelOptions = { 'grpc.use_local_subchannel_pool': 1 };

let cluster: StartedCluster;
let lb: Stubs;

before(async () => {
  cluster = await startCluster({ nodes: NODES, api: 'both' });
  assert.ok(cluster.grpcLb, 'the cluster prints the gRPC load balancer');
  lb = connect(cluster.grpcLb, OWN_CONNECTION);
  console.log(`cluster of ${NODES} nodes ready in ${cluster.startMs} ms; gRPC front ${cluster.grpcLb}`);
});

after(async () => {
  lb?.close();
  await cluster?.stop();
});

const soon = (ms = CALL_MS): { deadline: number } => ({ deadline: Date.now() + ms });

// ---- Normalising messages ----------------------------------------------------------------------------

const roomService = loadProtos()['chorus.v1.RoomService'] as ServiceDefinition;

/** A message as a client decodes it: serialised and parsed with the method's own codec. */
function asReceived<T>(method: 'GetRoom' | 'Watch', message: object): T {
  const m = roomService[method]!;
  return m.responseDeserialize(m.responseSerialize(message)) as T;
}

/** What GetRoom without a token must answer for this state (nothing plays, so no clock in it). */
function expectedRoom(state: RoomState, limit: number): pb.Room__Output {
  assert.equal(state.nowPlaying, null, 'nothing plays in these rooms (autoplay off)');
  return asReceived('GetRoom', toPbRoom(viewRoom(state, { now: Date.now(), viewer: null, limit })));
}

// ---- Rooms over gRPC ---------------------------------------------------------------------------------

const OPEN_SETTINGS: pb.SettingsPatch = {
  // Public: a private room opens only with its invite (issue 20), and these rooms are shared freely.
  public: true,
  maxQueueLength: 100_000,
  maxEntriesPerMember: 0,
  voteOffThreshold: 0,
  skipVotes: 0,
  autoplay: false,
};

/** Creates rooms through the gRPC front and joins one member per client to each; with each room's version then. */
async function setupRoomsOverGrpc(
  tag: string,
  rooms: number,
  clients: number,
): Promise<Array<LoadRoom & { readonly version: number }>> {
  const out: Array<LoadRoom & { readonly version: number }> = [];
  for (let r = 0; r < rooms; r++) {
    const roomId = `${tag}-${r}-${randomUUID().slice(0, 8)}`;
    const created = await unaryCall<pb.JoinResponse__Output>((done) =>
      lb.rooms.CreateRoom(
        { roomId, name: `Room ${roomId}`, hostName: 'Host', settings: OPEN_SETTINGS },
        md(undefined, randomUUID()),
        soon(),
        done,
      ),
    );
    assert.equal(created.room?.id, roomId);
    const members = await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const joined = await unaryCall<pb.JoinResponse__Output>((done) =>
          lb.sessions.Join({ roomId, name: `Client ${c}` }, md(undefined, randomUUID()), soon(), done),
        );
        return { memberId: joined.memberId, token: joined.token, version: joined.room!.version };
      }),
    );
    out.push({
      id: roomId,
      hostToken: created.token,
      members: members.map(({ memberId, token }) => ({ memberId, token })),
      version: Math.max(created.room.version, ...members.map((m) => m.version)),
    });
  }
  return out;
}

// ---- The mixed gRPC load -----------------------------------------------------------------------------

/** Statuses that are answers about the request (the 4xx of REST), not failures of the system. */
const REFUSALS: ReadonlySet<status> = new Set([
  status.INVALID_ARGUMENT,
  status.UNAUTHENTICATED,
  status.PERMISSION_DENIED,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.FAILED_PRECONDITION,
  status.RESOURCE_EXHAUSTED,
  status.OUT_OF_RANGE,
]);

type Outcome<T> =
  | { readonly ok: true; readonly value: T; readonly ms: number }
  | { readonly ok: false; readonly err: ServiceError; readonly ms: number };

async function attempt<T>(
  invoke: (done: (err: ServiceError | null, value?: T) => void) => unknown,
): Promise<Outcome<T>> {
  const t0 = performance.now();
  try {
    const value = await unaryCall<T>(invoke);
    return { ok: true, value, ms: performance.now() - t0 };
  } catch (err) {
    return { ok: false, err: err as ServiceError, ms: performance.now() - t0 };
  }
}

/** The Chorus error code from the trailers, or '-' when the status did not come from a node. */
function trailerCode(err: ServiceError): string {
  const code = err.metadata?.get(ERROR_CODE_KEY)[0];
  return typeof code === 'string' ? code : '-';
}

interface GrpcLoadOptions {
  readonly address: string;
  readonly rooms: readonly LoadRoom[];
  readonly clients: number;
  readonly operations: number;
  readonly seed: number;
  readonly shouldStop?: () => boolean;
}

/** A gRPC outcome in the load's terms: ok acknowledged, REFUSALS refused, anything else failed. */
function grpcAnswer(outcome: Outcome<{ version: number }>): LoadAnswer {
  if (outcome.ok) {
    return {
      kind: 'ok',
      ms: outcome.ms,
      version: outcome.value.version,
      entryId: (outcome.value as Partial<pb.AddTrackResponse__Output>).entry?.entryId,
      body: outcome.value,
    };
  }
  const { err } = outcome;
  if (REFUSALS.has(err.code)) {
    return {
      kind: 'refused',
      ms: outcome.ms,
      label: `${status[err.code]} ${trailerCode(err)}`,
      notFound: err.code === status.NOT_FOUND,
    };
  }
  return {
    kind: 'failed',
    ms: outcome.ms,
    status: err.code,
    code: status[err.code],
    detail: `${err.details} (trailer ${trailerCode(err)})`,
  };
}

/** Client c of the load over gRPC, on a channel of its own. */
function grpcLoadClient(address: string, c: number): LoadClient {
  const stubs = connect(address, OWN_CONNECTION);
  const read = (roomId: string, token: string, min: number): Promise<Outcome<pb.Room__Output>> =>
    attempt<pb.Room__Output>((done) =>
      stubs.rooms.GetRoom({ roomId, minVersion: min, limit: 50 }, md(token), soon(), done),
    );
  return {
    add: async (room, me, key, track) =>
      grpcAnswer(
        await attempt<pb.AddTrackResponse__Output>((done) =>
          stubs.queue.AddTrack({ roomId: room.id, track }, md(me.token, key), soon(), done),
        ),
      ),
    vote: async (room, me, key, entryId, value) => {
      const direction =
        value === 1 ? 'VOTE_DIRECTION_UP' : value === -1 ? 'VOTE_DIRECTION_DOWN' : 'VOTE_DIRECTION_WITHDRAW';
      return grpcAnswer(
        await attempt<pb.VoteResponse__Output>((done) =>
          stubs.queue.Vote({ roomId: room.id, entryId, direction }, md(me.token, key), soon(), done),
        ),
      );
    },
    remove: async (room, me, key, entryId) => {
      const outcome = await attempt<pb.RemoveEntryResponse__Output>((done) =>
        stubs.queue.RemoveEntry({ roomId: room.id, entryId }, md(me.token, key), soon(), done),
      );
      if (outcome.ok) assert.equal(outcome.value.entryId, entryId);
      return grpcAnswer(outcome);
    },
    readInstead: async (room, me) => grpcAnswer(await read(room.id, me.token, 0)),
    read: async (room, me, min, violations) => {
      const r = await read(room.id, me.token, min);
      if (r.ok) {
        if (!(r.value.version >= min))
          violations.push(`client ${c} read ${room.id} at version ${r.value.version} after seeing ${min}`);
        if (r.value.me?.memberId !== me.memberId)
          violations.push(`client ${c} read ${room.id} as ${r.value.me?.memberId ?? 'nobody'}`);
      }
      return grpcAnswer(r);
    },
    close: () => stubs.close(),
  };
}

/**
 * The REST helper's mixed load (runMixedLoad, cluster-load.ts) over gRPC, each client on its own
 * channel; reads pass the client's last seen version as min_version and must answer as the client.
 * Its result has the REST load's shape, so the same checks apply.
 */
function startGrpcLoad(o: GrpcLoadOptions): RunningLoad {
  const { address, ...load } = o;
  return runMixedLoad(load, (c) => grpcLoadClient(address, c));
}

// ---- Checks after a load -----------------------------------------------------------------------------

/**
 * Each node asked directly over gRPC with `min_version` answers the room at exactly the replay's
 * version, and the room equals the replay's; all nodes' answers are identical.
 */
async function assertNodesAgreeOverGrpc(
  nodes: readonly ClusterNode[],
  roomId: string,
  replay: ReplayedRoom,
  minVersion: number,
): Promise<void> {
  const limit = 1000;
  assert.ok(replay.state.queue.length <= limit, 'the queue fits one page');
  const expected = expectedRoom(replay.state, limit);
  const answers = await Promise.all(
    nodes.map(async (node) => {
      assert.ok(node.grpc, `node ${node.index} has a gRPC address`);
      const stubs = connect(node.grpc, OWN_CONNECTION);
      try {
        return await unaryCall<pb.Room__Output>((done) =>
          stubs.rooms.GetRoom({ roomId, minVersion, limit }, md(), soon(15_000), done),
        );
      } finally {
        stubs.close();
      }
    }),
  );
  answers.forEach((room, i) => {
    const node = nodes[i]!;
    assert.equal(room.version, replay.state.version, `node ${node.index} (gRPC) is at the replay's version`);
    assert.deepEqual(
      room,
      expected,
      `node ${node.index}'s ${roomId} over gRPC equals the replay of its stream`,
    );
  });
}

/** Replays each room's stream and checks every node (REST and gRPC) and the acknowledged writes. */
async function checkAfterLoad(
  rooms: readonly LoadRoom[],
  load: LoadResult,
  archive: LogArchive,
  exactVersions: boolean,
): Promise<Map<string, ReplayedRoom>> {
  await archive.stop();
  const replays = new Map<string, ReplayedRoom>();
  const nodes = cluster.nodes();
  for (const room of rooms) {
    const replay = await replayFromRedis(cluster.redisUrl, room.id, { archive });
    assert.equal(replay.firstSeq, 1, 'the whole log is replayed');
    if (replay.snapshotSeq !== null) assert.ok(replay.snapshotChecked, 'the snapshot equals the replay');
    replays.set(room.id, replay);
    const seen = load.maxVersion.get(room.id) ?? 0;
    if (exactVersions) {
      // Every call was answered, so the last write's answer carried the room's last version.
      assert.equal(replay.state.version, seen, `the replay of ${room.id} ends at the highest version seen`);
    } else {
      assert.ok(replay.state.version >= seen, `the replay of ${room.id} reaches every version seen`);
    }
    await assertNodesAgreeOverGrpc(nodes, room.id, replay, exactVersions ? seen : replay.state.version);
    await assertNodesAgree(nodes, room, replay);
  }
  const kept = assertAcknowledgedWritesKept(load, replays);
  console.log(
    `kept: ${kept.adds} acknowledged adds, ${kept.removes} removes, ${kept.votes} votes on queued entries; ` +
      `${nodes.length} nodes equal the replays over gRPC and REST`,
  );
  return replays;
}

// ---- Watch sessions ----------------------------------------------------------------------------------

interface Received {
  readonly message: pb.WatchResponse__Output;
  /** performance.now() at arrival. */
  readonly at: number;
}

interface Session {
  readonly via: string;
  readonly received: Received[];
  readonly ended: Promise<ServiceError | null>;
  /** Highest version of any message so far (or the version it resumed after). */
  last(): number;
  changes(): number;
  cancel(): Promise<void>;
}

function openWatch(stubs: Stubs, via: string, roomId: string, afterVersion?: number): Session {
  const received: Received[] = [];
  const stream = stubs.rooms.Watch(
    afterVersion === undefined ? { roomId } : { roomId, afterVersion },
    md(),
    // A generous deadline: the session is cancelled long before.
    { deadline: Date.now() + 120_000 },
  );
  stream.on('data', (message: pb.WatchResponse__Output) => received.push({ message, at: performance.now() }));
  const ended = new Promise<ServiceError | null>((resolve) => {
    stream.on('error', (err: ServiceError) => resolve(err));
    stream.on('end', () => resolve(null));
  });
  const session: Session = {
    via,
    received,
    ended,
    last: () => Math.max(afterVersion ?? 0, ...received.map((r) => r.message.version)),
    changes: () => received.filter((r) => r.message.kind === 'change').length,
    cancel: async () => {
      stream.cancel();
      const err = await ended;
      assert.ok(
        err === null || err.code === status.CANCELLED,
        `the ${via} watch ended by itself: ${err ? `${status[err.code]} ${err.details}` : ''}`,
      );
    },
  };
  return session;
}

/** Events of every version of a room, from its archived log replayed through `apply`. */
function replayEvents(
  archive: LogArchive,
  roomId: string,
): { states: Map<number, RoomState>; events: Map<number, RoomEvent[]> } {
  const entries = [...archive.entries(roomId).entries()].sort((a, b) => a[0] - b[0]);
  assert.equal(entries[0]?.[0], 1, `the archive of ${roomId} starts at the room's first command`);
  let state: RoomState | null = null;
  const states = new Map<number, RoomState>();
  const events = new Map<number, RoomEvent[]>();
  for (const [, json] of entries) {
    const out = apply(state, JSON.parse(json) as Envelope);
    state = out.state;
    for (const e of out.events) events.set(e.version, [...(events.get(e.version) ?? []), e]);
    if (state) states.set(state.version, state);
  }
  return { states, events };
}

/**
 * The change messages of these sessions, in order, are exactly versions from+1..to, once each, and
 * each equals the events the replayed stream gives its version. Returns them.
 */
function assertWatchedExactly(
  sessions: readonly Session[],
  from: number,
  to: number,
  events: ReadonlyMap<number, readonly RoomEvent[]>,
): Array<{ via: string; message: pb.WatchResponse__Output }> {
  const changes = sessions.flatMap((s) =>
    s.received.filter((r) => r.message.kind === 'change').map((r) => ({ via: s.via, message: r.message })),
  );
  assert.deepEqual(
    changes.map((m) => m.message.version),
    Array.from({ length: to - from }, (_, i) => from + 1 + i),
    `every version after ${from} up to ${to} exactly once, in order, across ${sessions.length} sessions (${sessions.map((s) => s.via).join(', ')})`,
  );
  for (const { via, message } of changes) {
    const expected = asReceived<pb.WatchResponse__Output>('Watch', {
      version: message.version,
      change: { events: events.get(message.version)!.map(toPbEvent) },
    });
    assert.deepEqual(
      message,
      expected,
      `the ${via} watch message of version ${message.version} equals the replay`,
    );
  }
  return changes;
}

/** A watcher that, when its stream breaks, resumes through nginx after the last version it got. */
interface Follower {
  readonly sessions: Session[];
  /** How each broken session ended. */
  readonly interruptions: string[];
  last(): number;
  stop(): Promise<void>;
}

function follow(stubs: Stubs, via: string, roomId: string, afterVersion: number): Follower {
  const sessions: Session[] = [];
  const interruptions: string[] = [];
  let stopping = false;
  const open = (s: Stubs, v: string, after: number): void => {
    const session = openWatch(s, v, roomId, after);
    sessions.push(session);
    void session.ended.then((err) => {
      if (stopping) return;
      interruptions.push(`${v}: ${err ? `${status[err.code]} ${err.details}` : 'ended'}`);
      open(lb, 'nginx', session.last());
    });
  };
  open(stubs, via, afterVersion);
  return {
    sessions,
    interruptions,
    last: () => sessions.at(-1)!.last(),
    stop: async () => {
      stopping = true;
      await sessions.at(-1)!.cancel();
    },
  };
}

// ---- The tests ---------------------------------------------------------------------------------------

void describe('gRPC through nginx to 5 nodes on Redis', () => {
  void test('20 clients on their own channels, 2,000 mixed calls over 3 rooms: every node equals the replayed stream', async (t) => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const rooms = await setupRoomsOverGrpc('grpc-mix', 3, CLIENTS);
    const archive = archiveLogs(
      cluster.redisUrl,
      rooms.map((r) => r.id),
    );
    t.after(() => archive.stop().catch(() => undefined));
    const load = await startGrpcLoad({
      address: cluster.grpcLb!,
      rooms,
      clients: CLIENTS,
      operations: OPERATIONS,
      seed,
    }).done;
    console.log(`seed ${seed}: ${summarise(load)}`);

    assert.equal(load.operations, OPERATIONS);
    assert.deepEqual(load.failures, [], 'no call failed on a healthy cluster');
    assert.deepEqual(load.readViolations, [], 'reads with min_version never went back in time');
    // Refusals are only votes and removes racing a remove of the same entry, with Chorus's trailers
    // intact through nginx.
    for (const label of Object.keys(load.refusals))
      assert.match(label, /^(vote|withdraw|remove) NOT_FOUND NOT_FOUND$/, `unexpected refusal ${label}`);
    assert.ok(load.counts.add.ok > 400 && load.counts.vote.ok > 300, 'the load did mostly succeed');

    const t0 = performance.now();
    await checkAfterLoad(rooms, load, archive, true);
    console.log(`checks took ${Math.round(performance.now() - t0)} ms`);
  });

  void test('Watch through nginx sees REST writes on each node within a second; resumed with after_version it misses and repeats nothing', async (t) => {
    const roomId = `grpc-watch-${randomUUID().slice(0, 8)}`;
    await unaryCall<pb.JoinResponse__Output>((done) =>
      lb.rooms.CreateRoom(
        { roomId, name: 'Watched', hostName: 'Host', settings: OPEN_SETTINGS },
        md(undefined, randomUUID()),
        soon(),
        done,
      ),
    );
    const archive = archiveLogs(cluster.redisUrl, [roomId], { everyMs: 50 });
    t.after(() => archive.stop().catch(() => undefined));
    const nodes = cluster.nodes();
    const joined = await call<{ memberId: string; token: string }>(
      nodes[0]!.rest,
      'POST',
      roomPath(roomId, '/members'),
      {
        body: { name: 'Writer' },
        key: randomUUID(),
      },
    );
    assert.equal(joined.status, 201, JSON.stringify(joined.body));
    const writer = joined.body;

    /** Acknowledged REST writes: version -> what the event must name. */
    const acked = new Map<number, { kind: 'add' | 'vote'; entryId: string; node: number }>();
    const entries: string[] = [];
    /** The writer's own vote per entry: each vote flips it, so none is a no-op (which keeps the version). */
    const myVote = new Map<string, 1 | -1>();
    let nextTrack = 0;
    const write = async (node: ClusterNode, kind: 'add' | 'vote'): Promise<number> => {
      if (kind === 'add' || entries.length === 0) {
        const n = nextTrack++;
        const r = await call<{ entry: { entryId: string }; version: number }>(
          node.rest,
          'POST',
          roomPath(roomId, '/queue'),
          {
            token: writer.token,
            key: randomUUID(),
            body: {
              track: {
                trackId: `w-${n}`,
                title: `Song ${n}`,
                artist: 'Writer',
                album: '',
                durationMs: 90_000,
              },
            },
          },
        );
        assert.equal(r.status, 201, `add on node ${node.index}: ${JSON.stringify(r.body)}`);
        entries.push(r.body.entry.entryId);
        acked.set(r.body.version, { kind: 'add', entryId: r.body.entry.entryId, node: node.index });
        return r.body.version;
      }
      const entryId = entries[nextTrack++ % entries.length]!;
      const value = myVote.get(entryId) === 1 ? -1 : 1;
      myVote.set(entryId, value);
      const r = await call<{ version: number }>(
        node.rest,
        'PUT',
        roomPath(roomId, `/queue/${entryId}/vote`),
        {
          token: writer.token,
          key: randomUUID(),
          body: { value },
        },
      );
      assert.equal(r.status, 200, `vote on node ${node.index}: ${JSON.stringify(r.body)}`);
      assert.ok(!acked.has(r.body.version), `the vote on node ${node.index} made a new version`);
      acked.set(r.body.version, { kind: 'vote', entryId, node: node.index });
      return r.body.version;
    };

    // A fresh Watch through nginx: first the whole room.
    const sessions: Session[] = [openWatch(lb, 'nginx', roomId)];
    t.after(() => Promise.all(sessions.map((s) => s.cancel().catch(() => undefined))));
    const first = sessions[0]!;
    await until('the first watch message', () => first.received.length > 0, { timeoutMs: 10_000 });
    assert.equal(first.received[0]!.message.kind, 'reset', 'a fresh watch starts with the whole room');

    // Writes made directly on each node's REST port reach the watcher through nginx within a second.
    const latencies: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const node of nodes) {
        const t0 = performance.now();
        const version = await write(node, round === 1 ? 'vote' : 'add');
        const got = await until(
          `the watch message of version ${version} (written on node ${node.index})`,
          () => first.received.find((r) => r.message.kind === 'change' && r.message.version === version),
          { timeoutMs: 5000, intervalMs: 2 },
        );
        latencies.push(got.at - t0);
      }
    }
    console.log(
      `REST write on a node -> Watch message through nginx: p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `max ${percentile(latencies, 100).toFixed(1)} ms over ${latencies.length} writes`,
    );
    assert.ok(
      latencies.every((ms) => ms < 1000),
      `every event arrived within a second: ${latencies.map((ms) => ms.toFixed(0)).join(', ')}`,
    );

    // Now writes keep coming (on every node in turn) while the watcher disconnects and resumes
    // with after_version: through nginx, and directly on each node in turn.
    let writing = true;
    const writer$ = (async () => {
      for (let i = 0; writing; i++) {
        await write(nodes[i % nodes.length]!, i % 3 === 2 ? 'vote' : 'add');
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const plan: Array<ClusterNode | 'nginx'> = nodes.flatMap((n) => ['nginx' as const, n]);
    plan.push('nginx');
    try {
      for (const target of plan) {
        const current = sessions.at(-1)!;
        const from = current.changes();
        await until(`two more changes on the ${current.via} watch`, () => current.changes() >= from + 2, {
          timeoutMs: 5000,
          intervalMs: 5,
        });
        await current.cancel();
        const resumeAfter = current.last();
        const stubs = target === 'nginx' ? lb : connect(target.grpc!, OWN_CONNECTION);
        const next = openWatch(
          stubs,
          target === 'nginx' ? 'nginx' : `node ${target.index}`,
          roomId,
          resumeAfter,
        );
        if (stubs !== lb) void next.ended.then(() => stubs.close());
        sessions.push(next);
      }
      const last = sessions.at(-1)!;
      await until('two changes on the last watch', () => last.changes() >= 2, {
        timeoutMs: 5000,
        intervalMs: 5,
      });
    } finally {
      writing = false;
      await writer$;
    }
    const finalVersion = Math.max(...acked.keys());
    const last = sessions.at(-1)!;
    await until(`the last watch to reach version ${finalVersion}`, () => last.last() >= finalVersion, {
      timeoutMs: 5000,
      intervalMs: 5,
    });
    await last.cancel();

    // All the sessions together: one reset, then every version once, in order, each with exactly
    // the events the replayed stream gives it.
    await archive.stop();
    const { states, events } = replayEvents(archive, roomId);
    const all = sessions.flatMap((s) => s.received.map((r) => ({ via: s.via, message: r.message })));
    const resets = all.filter((m) => m.message.kind === 'reset');
    assert.equal(
      resets.length,
      1,
      `only the first session has a reset (got ${resets.map((r) => r.via).join(', ')})`,
    );
    const reset = resets[0]!.message;
    assert.deepEqual(
      reset.reset,
      expectedRoom(states.get(reset.version)!, 200),
      'the reset is the room at its version',
    );
    const changes = assertWatchedExactly(sessions, reset.version, finalVersion, events);
    for (const { message } of changes) {
      const write = acked.get(message.version);
      if (write) {
        const body = message.change!.events[0]!;
        const entryId = write.kind === 'add' ? body.entryAdded?.entry?.entryId : body.voteChanged?.entryId;
        assert.equal(
          entryId,
          write.entryId,
          `version ${message.version} is the write made on node ${write.node}`,
        );
      }
    }
    const sessionsByVia = new Set(sessions.map((s) => s.via));
    console.log(
      `${acked.size} REST writes on ${nodes.length} nodes; ${sessions.length} watch sessions (${[...sessionsByVia].join(', ')}) ` +
        `saw versions ${reset.version + 1}..${finalVersion} once each`,
    );
    assert.ok(acked.size >= 30, 'enough writes happened while watchers came and went');
  });

  void test('SIGKILL one node mid-load: only in-flight calls fail, nothing acknowledged is lost, it restarts and catches up', async (t) => {
    const rooms = await setupRoomsOverGrpc('grpc-kill', 3, CLIENTS);
    const archive = archiveLogs(
      cluster.redisUrl,
      rooms.map((r) => r.id),
    );
    t.after(() => archive.stop().catch(() => undefined));
    const victim = cluster.node(2);
    // Two watchers of the first room: one directly on the node about to die, one through nginx. Both
    // resume through nginx whenever their stream breaks.
    const watched = rooms[0]!;
    const victimStubs = connect(victim.grpc!, OWN_CONNECTION);
    t.after(() => victimStubs.close());
    const followers = [
      follow(victimStubs, 'node 2', watched.id, watched.version),
      follow(lb, 'nginx', watched.id, watched.version),
    ];
    t.after(() => Promise.all(followers.map((f) => f.stop().catch(() => undefined))));
    let restartedAt: number | null = null;
    let doneAtRestart = 0;
    const load = startGrpcLoad({
      address: cluster.grpcLb!,
      rooms,
      clients: CLIENTS,
      operations: 4000,
      seed: Math.floor(Math.random() * 2 ** 31),
      // Go on until 300 calls after the node is back (nginx gives it calls again).
      shouldStop: () => restartedAt !== null && load.completed() - doneAtRestart >= 300,
    });
    await until('300 calls before the kill', () => load.completed() >= 300, { timeoutMs: 60_000 });
    const killedAt = Date.now();
    const doneBefore = load.completed();
    process.kill(victim.pid, 'SIGKILL');
    const exitLine = await cluster.waitForStderr(/^node 2 exited \((\S+)\); restarting$/, 10_000, killedAt);
    assert.equal(exitLine.match[1], 'SIGKILL');
    const restarted = await cluster.waitForNodeRestart(2, victim.pid, 60_000);
    assert.ok(restarted.grpc, 'the restarted node serves gRPC');
    // Its gRPC health says SERVING.
    const probe = connect(restarted.grpc, OWN_CONNECTION);
    try {
      const reply = await unaryCall<health.HealthCheckResponse__Output>((done) =>
        probe.health.Check({ service: '' }, md(), soon(), done),
      );
      assert.equal(reply.status, 'SERVING');
    } finally {
      probe.close();
    }
    doneAtRestart = load.completed();
    restartedAt = Date.now();
    const result = await load.done;
    console.log(summarise(result));
    console.log(
      `node 2 (pid ${victim.pid}) killed after ${doneBefore} calls; restarted as pid ${restarted.pid} in ` +
        `${restarted.at - killedAt} ms; ${doneAtRestart - doneBefore} calls answered meanwhile`,
    );
    console.log(
      `failures: ${result.failures.length} (${result.failures
        .map((f) => `${f.kind} ${f.code} [${f.detail}] sent ${f.sentAt - killedAt} ms after the kill`)
        .join('; ')})`,
    );

    // Only calls in flight at the kill fail: at most one per client, only as the proxy reports a
    // dead upstream, and none sent once nginx has had a moment to notice.
    assert.ok(
      result.failures.length <= CLIENTS,
      `${result.failures.length} failures; at most one per client`,
    );
    for (const f of result.failures)
      assert.ok(
        f.code === 'UNAVAILABLE' || f.code === 'INTERNAL',
        `a failure other than UNAVAILABLE/INTERNAL: ${f.kind} ${f.code} ${f.detail}`,
      );
    const late = result.failures.filter((f) => f.sentAt > killedAt + 1000);
    assert.deepEqual(late, [], 'calls sent a second after the kill are routed around the dead node');
    assert.ok(doneAtRestart - doneBefore > 0, 'the cluster kept answering while the node was down');
    assert.deepEqual(result.readViolations, []);
    for (const label of Object.keys(result.refusals))
      assert.match(label, /^(vote|withdraw|remove) NOT_FOUND NOT_FOUND$/, `unexpected refusal ${label}`);

    // The restarted node has caught up: it answers like the others, equal to the replays.
    const replays = await checkAfterLoad(rooms, result, archive, false);

    // The watchers, resumed after the kill, saw every version of the room once, as the replay has it.
    const finalVersion = replays.get(watched.id)!.state.version;
    const { events } = replayEvents(archive, watched.id);
    for (const f of followers) {
      await until(`the watcher to reach version ${finalVersion}`, () => f.last() >= finalVersion, {
        timeoutMs: 10_000,
        intervalMs: 10,
      });
      await f.stop();
      assertWatchedExactly(f.sessions, watched.version, finalVersion, events);
    }
    console.log(
      `watchers resumed after: ${followers.map((f) => `[${f.interruptions.join('; ')}]`).join(', ')}`,
    );
    assert.match(
      followers[0]!.interruptions[0] ?? '',
      /^node 2: (UNAVAILABLE|INTERNAL) /,
      'the watch on the killed node broke, and was resumed through nginx',
    );
  });
});
