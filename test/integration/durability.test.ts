// Durability of a real `chorus serve` under load: 20 concurrent clients add and vote in several
// rooms, each recording what the node acknowledged; the node is killed with SIGKILL (or stopped with
// SIGTERM) mid-load and restarted on the same data dir. Then:
//   - every acknowledged write is present (adds in queue / now playing / history; votes in the
//     entry's counts and in the voter's own `myVote`);
//   - in order: versions and insertion sequences follow the real-time order of acknowledgements;
//   - nothing unacknowledged is half-applied: every entry is an acknowledged or in-flight add, counts
//     stay within acknowledged + in-flight votes, refused (503) writes are absent, and the recovered
//     room equals what a second, fresh recovery from the same data dir gives.

/* eslint-disable @typescript-eslint/no-unsafe-argument --
   Answers are parsed JSON (Json = any): the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { cleanupChorus, startChorus } from '../helpers/chorus-process.ts';
import { Http, ok, type Json } from '../helpers/http.ts';

after(async () => {
  await cleanupChorus();
});

const CLIENTS = 20;
const ROOMS = 3;
/** Acknowledged writes after which the node is killed or stopped: mid-load, a few seconds in. */
const TRIGGER_AFTER_ACKS = 300;
const LOAD_DEADLINE_MS = 30_000;
/** How long a graceful stop may take under load. */
const STOP_DEADLINE_MS = 15_000;

const OPEN_SETTINGS = {
  maxQueueLength: 1_000_000,
  maxEntriesPerMember: 0,
  voteOffThreshold: 0,
  skipVotes: 0,
};

interface Client {
  readonly i: number;
  readonly room: string;
  readonly memberId: string;
  readonly token: string;
}

interface Setup {
  readonly rooms: { readonly id: string; readonly hostToken: string }[];
  readonly clients: Client[];
}

interface Write {
  readonly kind: 'add' | 'vote';
  readonly client: number;
  readonly room: string;
  readonly trackId?: string;
  readonly entryId?: string;
  readonly value?: 1 | -1;
  readonly sentAt: number;
  ackAt?: number;
  version?: number;
  status?: number;
  text?: string;
}

interface LoadResult {
  /** 2xx answers received in full. */
  readonly acked: Write[];
  /** Sent, no complete answer (connection lost): may or may not have been applied. */
  readonly unknown: Write[];
  /** Refused with 503 (the node stopping): must not have been applied. */
  readonly refused: Write[];
  /** Any other answer: a test failure. */
  readonly unexpected: Write[];
}

function track(trackId: string): Json {
  return { trackId, title: `Title ${trackId}`, artist: 'Load', album: '', durationMs: 600_000 };
}

async function setUp(api: Http): Promise<Setup> {
  const rooms: Setup['rooms'] = [];
  for (let r = 0; r < ROOMS; r++) {
    const id = `dur-${r}-${randomUUID().slice(0, 8)}`;
    const created = ok(
      await api.post('/v1/rooms', {
        name: `Durable ${r}`,
        hostName: 'Host',
        roomId: id,
        settings: OPEN_SETTINGS,
      }),
      201,
    );
    rooms.push({ id, hostToken: created.token });
  }
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const room = rooms[i % ROOMS]!.id;
      const joined = ok(await api.post(`/v1/rooms/${room}/members`, { name: `client ${i}` }), 201);
      return { i, room, memberId: joined.memberId as string, token: joined.token as string };
    }),
  );
  return { rooms, clients };
}

/**
 * Runs 20 clients until each one's connection fails or the node refuses (each client alternates
 * an add of a new track and a vote on an entry of its room it has not voted on yet). `trigger` runs
 * once, when TRIGGER_AFTER_ACKS writes have been acknowledged; clients keep going meanwhile.
 */
async function runLoad(base: string, setup: Setup, trigger: () => void): Promise<LoadResult> {
  const result: LoadResult = { acked: [], unknown: [], refused: [], unexpected: [] };
  const entries = new Map<string, string[]>();
  let triggered = false;
  const started = performance.now();
  const tag = randomUUID().slice(0, 6);

  const runClient = async (c: Client): Promise<void> => {
    const voted = new Set<string>();
    for (let n = 0; performance.now() - started < LOAD_DEADLINE_MS; n++) {
      const candidates = (entries.get(c.room) ?? []).filter((e) => !voted.has(e));
      let w: Write;
      let path: string;
      let method: string;
      let body: Json;
      if (n % 2 === 0 || candidates.length === 0) {
        w = { kind: 'add', client: c.i, room: c.room, trackId: `t-${tag}-c${c.i}-${n}`, sentAt: 0 };
        method = 'POST';
        path = `/v1/rooms/${c.room}/queue`;
        body = { track: track(w.trackId!) };
      } else {
        const entryId = candidates[Math.floor(Math.random() * candidates.length)]!;
        voted.add(entryId);
        w = {
          kind: 'vote',
          client: c.i,
          room: c.room,
          entryId,
          value: Math.random() < 0.5 ? 1 : -1,
          sentAt: 0,
        };
        method = 'PUT';
        path = `/v1/rooms/${c.room}/queue/${entryId}/vote`;
        body = { value: w.value };
      }
      (w as { sentAt: number }).sentAt = performance.now();
      let status: number;
      let text: string;
      try {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        status = res.status;
        text = await res.text();
      } catch {
        result.unknown.push(w);
        return;
      }
      w.status = status;
      w.text = text;
      if (status >= 200 && status < 300) {
        let parsed: Json;
        try {
          parsed = JSON.parse(text);
        } catch {
          result.unexpected.push(w);
          return;
        }
        w.ackAt = performance.now();
        w.version = parsed.version;
        result.acked.push(w);
        if (w.kind === 'add' && parsed.entry) {
          const list = entries.get(c.room) ?? [];
          list.push(parsed.entry.entryId as string);
          entries.set(c.room, list);
        }
        if (!triggered && result.acked.length >= TRIGGER_AFTER_ACKS) {
          triggered = true;
          trigger();
        }
      } else if (status === 503) {
        result.refused.push(w);
        return;
      } else {
        result.unexpected.push(w);
        return;
      }
    }
  };
  await Promise.all(setup.clients.map(runClient));
  assert.ok(triggered, `the load never reached ${TRIGGER_AFTER_ACKS} acknowledged writes`);
  return result;
}

interface RoomSnapshot {
  /** GET room as the host sees it, without the fields that move with the clock. */
  readonly view: Json;
  readonly history: Json[];
  /** memberId -> entryId -> myVote, for every client of the room. */
  readonly myVotes: Map<string, Map<string, number>>;
}

function timeless(room: Json): Json {
  const copy = structuredClone(room);
  if (copy.nowPlaying) {
    delete copy.nowPlaying.positionMs;
    delete copy.nowPlaying.remainingMs;
  }
  for (const q of copy.queue as Json[]) delete q.etaMs;
  return copy;
}

async function snapshotRoom(
  api: Http,
  roomId: string,
  hostToken: string,
  clients: Client[],
): Promise<RoomSnapshot> {
  const view = timeless(ok(await api.get(`/v1/rooms/${roomId}?limit=1000`, { token: hostToken }), 200));
  assert.equal(view.queue.length, view.queueLength, 'the whole queue was read');
  const history: Json[] = [];
  let before: number | null = null;
  do {
    const page: Json = ok(
      await api.get(`/v1/rooms/${roomId}/history?limit=200${before === null ? '' : `&before=${before}`}`),
      200,
    );
    history.push(...(page.records as Json[]));
    before = page.nextBefore as number | null;
  } while (before !== null);
  const myVotes = new Map<string, Map<string, number>>();
  for (const c of clients.filter((x) => x.room === roomId)) {
    const mine = ok(await api.get(`/v1/rooms/${roomId}?limit=1000`, { token: c.token }), 200);
    const votes = new Map<string, number>();
    for (const q of mine.queue as Json[]) votes.set(q.entryId as string, q.myVote as number);
    if (mine.nowPlaying) votes.set(mine.nowPlaying.entryId as string, mine.nowPlaying.myVote as number);
    myVotes.set(c.memberId, votes);
  }
  return { view, history, myVotes };
}

async function snapshotAll(api: Http, setup: Setup): Promise<Map<string, RoomSnapshot>> {
  const all = new Map<string, RoomSnapshot>();
  for (const room of setup.rooms)
    all.set(room.id, await snapshotRoom(api, room.id, room.hostToken, setup.clients));
  return all;
}

/** Every check of "acknowledged writes present, in order, nothing half-applied" on recovered rooms. */
function verify(setup: Setup, load: LoadResult, rooms: Map<string, RoomSnapshot>): void {
  const memberOf = new Map(setup.clients.map((c) => [c.i, c.memberId]));
  for (const room of setup.rooms) {
    const snap = rooms.get(room.id)!;
    const { view, history } = snap;
    const acked = load.acked.filter((w) => w.room === room.id);
    const unknown = load.unknown.filter((w) => w.room === room.id);
    const refused = load.refused.filter((w) => w.room === room.id);
    const where = `room ${room.id}`;

    // Entries by track id, wherever they are now.
    const queued = new Map<string, Json>();
    for (const q of view.queue as Json[]) queued.set(q.track.trackId as string, q);
    const present = new Set<string>(queued.keys());
    if (view.nowPlaying) present.add(view.nowPlaying.track.trackId as string);
    for (const r of history) present.add(r.track.trackId as string);
    const entryById = new Map<string, Json>();
    for (const q of view.queue as Json[]) entryById.set(q.entryId as string, q);
    if (view.nowPlaying) entryById.set(view.nowPlaying.entryId as string, view.nowPlaying);

    // Members: the host and every client of the room (joined before the load).
    assert.equal(view.memberCount, 1 + setup.clients.filter((c) => c.room === room.id).length, where);

    // Present: every acknowledged add.
    const ackedAdds = acked.filter((w) => w.kind === 'add');
    const missing = ackedAdds.filter((w) => !present.has(w.trackId!));
    assert.deepEqual(
      missing.map((w) => w.trackId),
      [],
      `${where}: ${missing.length} of ${ackedAdds.length} acknowledged adds are missing`,
    );
    // Nothing else: every entry is an acknowledged add or one whose answer was lost in the crash.
    const allowed = new Set(
      [...ackedAdds, ...unknown.filter((w) => w.kind === 'add')].map((w) => w.trackId!),
    );
    const phantoms = [...present].filter((t) => !allowed.has(t));
    assert.deepEqual(phantoms, [], `${where}: entries nobody added (or added and was refused)`);
    const refusedPresent = refused.filter((w) => w.kind === 'add' && present.has(w.trackId!));
    assert.deepEqual(
      refusedPresent.map((w) => w.trackId),
      [],
      `${where}: adds refused with 503 must not take effect`,
    );

    // Versions: the room covers every acknowledgement; acknowledged changes each had their own
    // version; a write acknowledged before another was sent has a lower version (real-time order).
    const maxAcked = Math.max(0, ...acked.map((w) => w.version!));
    assert.ok(view.version >= maxAcked, `${where}: version ${view.version} < acknowledged ${maxAcked}`);
    const versions = acked.map((w) => w.version!);
    assert.equal(
      new Set(versions).size,
      versions.length,
      `${where}: two acknowledged writes share a version`,
    );
    const bySent = [...acked].sort((a, b) => a.sentAt - b.sentAt);
    const byAck = [...acked].sort((a, b) => a.ackAt! - b.ackAt!);
    // For each write B, every write acknowledged before B was sent must have a lower version / seq.
    let maxVersionBefore = 0;
    let maxSeqBefore = 0;
    let k = 0;
    for (const b of bySent) {
      while (k < byAck.length && byAck[k]!.ackAt! < b.sentAt) {
        const a = byAck[k]!;
        maxVersionBefore = Math.max(maxVersionBefore, a.version!);
        const seqA = a.kind === 'add' ? queued.get(a.trackId!)?.seq : undefined;
        if (typeof seqA === 'number') maxSeqBefore = Math.max(maxSeqBefore, seqA);
        k++;
      }
      assert.ok(
        b.version! > maxVersionBefore,
        `${where}: ${b.kind} by client ${b.client} got version ${b.version} though version ${maxVersionBefore} was acknowledged before it was sent`,
      );
      const seqB = b.kind === 'add' ? queued.get(b.trackId!)?.seq : undefined;
      if (typeof seqB === 'number') {
        assert.ok(
          seqB > maxSeqBefore,
          `${where}: add ${b.trackId} has seq ${seqB}, not after ${maxSeqBefore}`,
        );
      }
    }
    // Per client, in the order of its acknowledgements: increasing versions and insertion sequence.
    for (const c of setup.clients.filter((x) => x.room === room.id)) {
      const mine = acked.filter((w) => w.client === c.i);
      const vs = mine.map((w) => w.version!);
      assert.deepEqual(
        vs,
        [...vs].sort((a, b) => a - b),
        `${where}: client ${c.i} versions out of order`,
      );
      const seqs = mine
        .filter((w) => w.kind === 'add')
        .map((w) => queued.get(w.trackId!)?.seq as number | undefined)
        .filter((s): s is number => s !== undefined);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        `${where}: client ${c.i} entries out of order`,
      );
    }

    // Votes: each acknowledged vote is the voter's own vote on the entry (each client votes at most
    // once per entry); counts are at least the acknowledged votes and at most those plus the
    // in-flight ones.
    const ackedVotes = acked.filter((w) => w.kind === 'vote');
    for (const w of ackedVotes) {
      const entry = entryById.get(w.entryId!);
      if (!entry) continue; // played and gone: history keeps only the final counts
      const mine = snap.myVotes.get(memberOf.get(w.client)!)!.get(w.entryId!);
      assert.equal(mine, w.value, `${where}: client ${w.client}'s acknowledged vote on ${w.entryId} is lost`);
    }
    for (const [entryId, entry] of entryById) {
      const on = (list: Write[], value: 1 | -1): number =>
        list.filter((w) => w.kind === 'vote' && w.entryId === entryId && w.value === value).length;
      const span = `${where}: entry ${entryId}`;
      assert.ok(
        entry.ups >= on(acked, 1) && entry.ups <= on(acked, 1) + on(unknown, 1),
        `${span} ups ${entry.ups}`,
      );
      assert.ok(
        entry.downs >= on(acked, -1) && entry.downs <= on(acked, -1) + on(unknown, -1),
        `${span} downs ${entry.downs}`,
      );
      assert.equal(entry.score, entry.ups - entry.downs, span);
      const refusedVotes = refused.filter((w) => w.kind === 'vote' && w.entryId === entryId);
      for (const w of refusedVotes) {
        assert.equal(
          snap.myVotes.get(memberOf.get(w.client)!)!.get(entryId),
          0,
          `${span}: a vote refused with 503 took effect`,
        );
      }
    }
    // The queue is in the order the rules say.
    const q = view.queue as Json[];
    for (let i = 1; i < q.length; i++) {
      const a = q[i - 1];
      const b = q[i];
      assert.ok(
        a.score > b.score || (a.score === b.score && a.seq < b.seq),
        `${where}: queue out of order at ${i}`,
      );
    }
  }
}

function describeLoad(load: LoadResult): string {
  return `acked ${load.acked.length}, in flight ${load.unknown.length}, refused ${load.refused.length}, unexpected ${load.unexpected.length}`;
}

function assertNoUnexpected(load: LoadResult): void {
  assert.deepEqual(
    load.unexpected.map((w) => `${w.kind} ${w.status} ${w.text?.slice(0, 200)}`),
    [],
    'every answer is 2xx, or 503 while stopping',
  );
}

function compareSnapshots(a: Map<string, RoomSnapshot>, b: Map<string, RoomSnapshot>, what: string): void {
  for (const [id, snap] of a) {
    const other = b.get(id)!;
    assert.deepEqual(other.view, snap.view, `${what}: room ${id} differs`);
    assert.deepEqual(other.history, snap.history, `${what}: history of ${id} differs`);
    assert.deepEqual(other.myVotes, snap.myVotes, `${what}: votes in ${id} differ`);
  }
}

void describe('durability of acknowledged writes', () => {
  void test('SIGKILL mid-load: every acknowledged write survives, in order, nothing half-applied', async () => {
    const first = await startChorus();
    const dataDir = first.dataDir!;
    const setup = await setUp(new Http(first.restUrl));
    let killedAt = 0;
    const load = await runLoad(first.restUrl, setup, () => {
      killedAt = performance.now();
      first.child.kill('SIGKILL');
    });
    const exit = await first.exited;
    assert.equal(exit.signal, 'SIGKILL', 'the node was killed, not stopped');
    assertNoUnexpected(load);
    assert.ok(load.acked.length >= TRIGGER_AFTER_ACKS, describeLoad(load));
    assert.ok(
      load.acked.every((w) => w.ackAt! <= killedAt + 1_000),
      'no acknowledgement long after the kill',
    );

    const second = await startChorus({ dataDir });
    let afterRecovery: Map<string, RoomSnapshot>;
    try {
      const api = new Http(second.restUrl);
      const recovered = await snapshotAll(api, setup);
      verify(setup, load, recovered);

      // A recovered node keeps working: one more acknowledged write per room, then crash again.
      for (const room of setup.rooms) {
        ok(
          await api.post(
            `/v1/rooms/${room.id}/queue`,
            { track: track(`after-${room.id}`) },
            { token: room.hostToken },
          ),
          201,
        );
      }
      afterRecovery = await snapshotAll(api, setup);
      for (const room of setup.rooms) {
        assert.equal(afterRecovery.get(room.id)!.view.version, recovered.get(room.id)!.view.version + 1);
      }
    } finally {
      await second.kill();
    }

    // A fresh recovery from the same data dir gives the very same rooms: what is there is exactly
    // what replaying the log gives, with no half-applied command.
    const third = await startChorus({ dataDir });
    try {
      const again = await snapshotAll(new Http(third.restUrl), setup);
      compareSnapshots(afterRecovery, again, 'second recovery');
    } finally {
      assert.equal(await third.stop(), 0, third.stderr());
    }
  });

  void test('SIGTERM mid-load: exit code 0 promptly, every acknowledged write survives the restart', async () => {
    const first = await startChorus();
    const dataDir = first.dataDir!;
    const setup = await setUp(new Http(first.restUrl));
    const stopping: Promise<number | null | Error>[] = [];
    let stopStarted = 0;
    const load = await runLoad(first.restUrl, setup, () => {
      stopStarted = performance.now();
      // Generous for a loaded machine; a graceful stop finishes in-flight requests, flushes the log
      // and exits, whatever idle keep-alive connections clients still hold.
      stopping.push(first.stop(STOP_DEADLINE_MS).catch((err: unknown) => err as Error));
    });
    assert.equal(stopping.length, 1, 'the stop was triggered once');
    const stopped = await stopping[0];
    const stopMs = Math.round(performance.now() - stopStarted);
    assertNoUnexpected(load);
    assert.ok(load.acked.length >= TRIGGER_AFTER_ACKS, describeLoad(load));

    // Durability is checked whatever the stop did (a stop that hangs is SIGKILLed at the deadline).
    const second = await startChorus({ dataDir });
    try {
      verify(setup, load, await snapshotAll(new Http(second.restUrl), setup));
    } finally {
      await second.kill();
    }

    assert.equal(
      stopped,
      0,
      `SIGTERM under load must exit 0 within ${STOP_DEADLINE_MS} ms (took ${stopMs} ms): ${String(stopped)}`,
    );
  });

  void test('SIGTERM while a keep-alive connection has a request in flight: it is answered, then the node exits 0 promptly', async () => {
    const node = await startChorus({ args: ['--read-timeout-ms', '3000'], logLevel: 'info' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // A slow request: a read waiting for a version that never comes (504 after the read timeout).
      let sent!: () => void;
      const flushed = new Promise<void>((resolve) => (sent = resolve));
      const slow = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.get(`${node.restUrl}/v1/rooms/legacy?minVersion=1000000`, { agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.on('finish', () => sent());
      });
      await flushed;
      // Answered on another connection after the slow request was on the wire: the node has it.
      assert.equal((await fetch(`${node.restUrl}/healthz`)).status, 200);
      const started = performance.now();
      const stopping = node.stop(STOP_DEADLINE_MS).catch((err: unknown) => err as Error);
      const answer = await slow;
      assert.equal(answer.status, 504, `the in-flight request is finished, not cut: ${answer.body}`);
      assert.match(node.stderr(), /SIGTERM: stopping/, 'the stop began while the slow read was in flight');
      // The client keeps its (now idle) keep-alive connection, as browsers and proxies do.
      const code = await stopping;
      const took = Math.round(performance.now() - started);
      assert.equal(
        code,
        0,
        `the node must exit 0 soon after its in-flight requests finish, not wait for idle keep-alive ` +
          `connections to time out (stop took ${took} ms): ${String(code)}`,
      );
    } finally {
      agent.destroy();
      await node.kill();
    }
  });
});
