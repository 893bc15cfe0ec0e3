// The seeded random-crash run of the 2PC store (issue 17) over N real `chorus serve --store 2pc`
// processes: concurrent clients join members to a few rooms through random nodes while a chaos
// loop SIGKILLs random nodes (coordinators of the writes they took, participants of all the others)
// and restarts them, a third of the restarts with a failpoint armed so the node also dies exactly
// after its next PREPARED or COMMIT record. Then every node is brought back and the run checks:
// - every node holds the same rooms at the same versions, with the same state (no write applied on
//   some nodes and not others);
// - every acknowledged join is there, on every node (its member token sees itself as `me`);
// - no refused write (ABORTED or UNAVAILABLE: the coordinator decided abort) was applied: a room's
//   members beyond the acknowledged ones are at most the writes whose outcome the client never
//   learned (a connection cut by a SIGKILL, a deadline).
// The seed fixes every choice (node, room, which node to kill, when, which failpoint); the timing
// of real processes still varies from run to run, so a seed narrows a failure down, it does not
// replay it exactly. Used by test/integration/twopc-crash-run.test.ts (a short run) and
// scripts/verify-2pc-crash.ts (`npm run verify:2pc-crash -- --transactions 1000 --seed N`).

import { prng } from '../../src/prng.ts';
import type { FailpointName } from '../../src/store/failpoints.ts';
import type { Json } from './http.ts';

import { twoPcProcesses, type TwoPcProcesses } from './twopc-processes.ts';
import { until } from './until.ts';

export interface CrashRunOptions {
  readonly seed: number;
  /** Write attempts in all (acknowledged, refused or unknown). */
  readonly transactions: number;
  readonly nodes?: number;
  readonly clients?: number;
  readonly rooms?: number;
  /** Records between snapshots on every node (CHORUS_2PC_COMPACT_EVERY; default: the store's). */
  readonly compactEvery?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface CrashRunReport {
  readonly seed: number;
  readonly transactions: number;
  readonly acknowledged: number;
  /** Refused with a decided abort (ABORTED, UNAVAILABLE), by code. */
  readonly refused: Readonly<Record<string, number>>;
  /** Outcome never learned by the client (connection cut, deadline). */
  readonly unknown: number;
  readonly kills: number;
  /** Nodes that died at a failpoint of the run. */
  readonly failpointKills: number;
  readonly restarts: number;
  /** Each room's version, the same on every node (when `problems` is empty). */
  readonly versions: Readonly<Record<string, number>>;
  /** Each node's newest snapshot lsn at the end (0: its log was never compacted). */
  readonly snapshotLsns: readonly number[];
  readonly wallMs: number;
  /** What is wrong; empty when every check passed. */
  readonly problems: readonly string[];
}

interface Acked {
  readonly room: string;
  readonly memberId: string;
  readonly token: string;
}

const FAILPOINTS: readonly FailpointName[] = ['twopc-after-prepared', 'twopc-after-commit-record'];
/** The codes a coordinator answers after deciding abort: such a write is never applied. */
const DECIDED_ABORT = new Set(['ABORTED', 'UNAVAILABLE']);

export async function runTwoPcCrash(options: CrashRunOptions): Promise<CrashRunReport> {
  const began = Date.now();
  const n = options.nodes ?? 5;
  const log = options.log ?? (() => {});
  const random = prng(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const g = await twoPcProcesses(n, { args: ['--no-legacy'], startTimeoutMs: 90_000 });
  const compactEnv: Record<string, string> =
    options.compactEvery === undefined ? {} : { CHORUS_2PC_COMPACT_EVERY: String(options.compactEvery) };
  const start = (i: number, env: Readonly<Record<string, string>> = {}) =>
    g.start(i, { ...compactEnv, ...env });
  const problems: string[] = [];
  let kills = 0;
  let restarts = 0;
  let failpointKills = 0;
  try {
    await Promise.all(g.ids.map((_, i) => start(i)));
    await g.ready();
    const rooms = Array.from({ length: options.rooms ?? 4 }, (_, i) => `crash-${options.seed}-${i}`);
    for (const room of rooms) await create(g, room);
    log(`${n} nodes up, ${rooms.length} rooms; seed ${options.seed}`);

    const up = (i: number): boolean => g.nodes[i]?.running === true;
    const acked: Acked[] = [];
    const refused: Record<string, number> = {};
    const unknownByRoom = new Map<string, number>();
    let issued = 0;
    let finished = 0;
    let clientsDone = false;

    const client = async (c: number): Promise<void> => {
      for (;;) {
        if (issued >= options.transactions) return;
        // On a fast machine the writes could all be answered before the first SIGKILL: the second
        // half waits for it, so every run has writes under faults (the chaos kills within 3 s).
        if (issued >= options.transactions / 2 && kills === 0) {
          await sleep(50);
          continue;
        }
        const live = g.ids.flatMap((_, i) => (up(i) ? [i] : []));
        if (live.length === 0) {
          await sleep(50);
          continue;
        }
        const k = issued++;
        const node = pick(live);
        const room = pick(rooms);
        const name = `c${c}-w${k}`;
        try {
          const res = await g.api(node).post(`/v1/rooms/${room}/members`, { name }, { timeoutMs: 20_000 });
          const body = res.body;
          if (res.status === 201) {
            acked.push({ room, memberId: body.memberId as string, token: body.token as string });
          } else if (DECIDED_ABORT.has(body?.error?.code as string)) {
            const code = body.error.code as string;
            refused[code] = (refused[code] ?? 0) + 1;
          } else {
            unknownByRoom.set(room, (unknownByRoom.get(room) ?? 0) + 1);
          }
        } catch {
          // The connection was cut (its node was killed) or the request timed out: unknown.
          unknownByRoom.set(room, (unknownByRoom.get(room) ?? 0) + 1);
        }
        finished++;
        if (finished % 100 === 0) log(`${finished}/${options.transactions} writes answered`);
      }
    };

    const live = (): number[] => g.ids.flatMap((_, i) => (up(i) ? [i] : []));
    /** Nodes down; one that died by itself did so at a failpoint of the run. */
    const down = (): number[] =>
      g.ids.flatMap((_, i) => {
        if (up(i)) return [];
        if (g.nodes[i] !== null) {
          failpointKills++;
          g.nodes[i] = null;
        }
        return [i];
      });
    // Rounds: a calm spell with every node up (writes commit), one or two SIGKILLs, a spell down
    // (writes are refused: every node must vote), the restarts (some with a failpoint armed), and
    // a wait until the group is ready again or a failpoint took a node down once more.
    const chaos = async (): Promise<void> => {
      while (!clientsDone) {
        await sleep(1_000 + random() * 2_000);
        if (clientsDone) return;
        const victims = random() < 0.25 ? 2 : 1;
        for (let v = 0; v < victims; v++) {
          const i = pick(live());
          log(`SIGKILL ${g.ids[i]!}`);
          await g.kill(i);
          kills++;
        }
        await sleep(300 + random() * 1_200);
        for (const i of down()) {
          const failpoint = random() < 1 / 3 ? pick(FAILPOINTS) : null;
          const t0 = Date.now();
          await start(i, failpoint === null ? {} : { CHORUS_FAILPOINTS: `${failpoint}=kill` });
          log(
            `restart ${g.ids[i]!}${failpoint === null ? '' : ` with ${failpoint}`} (${Date.now() - t0} ms)`,
          );
          restarts++;
        }
        // Until the group is ready again; a node that fell at its failpoint meanwhile is restarted
        // (without one) at once.
        await until(
          'the group ready again',
          async () => {
            for (const i of down()) {
              log(`${g.ids[i]!} died at its failpoint; restart`);
              await start(i);
              restarts++;
            }
            const answers = await Promise.all(live().map((i) => g.api(i).get('/readyz')));
            return answers.every((r) => r.status === 200);
          },
          { timeoutMs: 60_000, intervalMs: 100 },
        );
      }
    };

    const chaosDone = chaos();
    await Promise.all(Array.from({ length: options.clients ?? 6 }, (_, c) => client(c)));
    clientsDone = true;
    await chaosDone;

    // Everyone back, without failpoints, and settled: nothing prepared, in doubt or un-ACKed.
    for (const i of down()) {
      await start(i);
      restarts++;
    }
    await g.ready(120_000);
    await until(
      'every node settled (nothing prepared, in doubt or awaiting ACKs)',
      async () => {
        const all = await Promise.all(g.ids.map((_, i) => g.cluster(i)));
        return all.every(
          (s: Json) =>
            s.details.preparedCount === 0 && s.details.awaitingAcks === 0 && s.details.inDoubt.length === 0,
        );
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );

    const versions: Record<string, number> = {};
    for (const room of rooms) {
      const views = await until(`every node to hold ${room} at one version`, async () => {
        const all: Json[] = await Promise.all(g.ids.map((_, i) => g.view(i, room)));
        return all.every((v) => v.version === all[0].version) ? all : undefined;
      });
      const states = views.map(stateOf);
      states.forEach((s, i) => {
        if (s !== states[0])
          problems.push(`${room}: ${g.ids[i]!} holds ${s}, ${g.ids[0]!} holds ${states[0]!}`);
      });
      versions[room] = views[0].version as number;
      const members = (views[0].memberCount as number) - 1; // the host
      const ackedHere = acked.filter((a) => a.room === room).length;
      const unknownHere = unknownByRoom.get(room) ?? 0;
      if (members < ackedHere)
        problems.push(`${room}: ${members} members joined, ${ackedHere} joins acknowledged`);
      if (members > ackedHere + unknownHere) {
        problems.push(
          `${room}: ${members} members joined, but only ${ackedHere} acknowledged + ${unknownHere} unknown: a refused write was applied`,
        );
      }
    }
    await checkAcked(g, acked, problems);
    const snapshotLsns = (await Promise.all(g.ids.map((_, i) => g.cluster(i)))).map(
      (s: Json) => (s.details.compaction?.snapshotLsn as number | undefined) ?? 0,
    );

    const unknown = [...unknownByRoom.values()].reduce((a, b) => a + b, 0);
    return {
      seed: options.seed,
      transactions: options.transactions,
      acknowledged: acked.length,
      refused,
      unknown,
      kills,
      failpointKills,
      restarts,
      versions,
      snapshotLsns,
      wallMs: Date.now() - began,
      problems,
    };
  } finally {
    await g.stopAll();
  }
}

/** Creates a room through node 0, retrying while the group is not ready for it. */
async function create(g: TwoPcProcesses, room: string): Promise<void> {
  await until(
    `room ${room} created`,
    async () => {
      const res = await g.api(0).post('/v1/rooms', { name: room, hostName: 'Host', roomId: room });
      if (res.status === 201) return true;
      // A create whose answer was lost may have committed: the room is there then.
      return (await g.api(0).get(`/v1/rooms/${room}`)).status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

/** Every acknowledged member sees itself on every node; at most 8 requests at once. */
async function checkAcked(g: TwoPcProcesses, acked: readonly Acked[], problems: string[]): Promise<void> {
  const jobs = acked.flatMap((a) => g.ids.map((_, i) => ({ a, i })));
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) {
      const { a, i } = job;
      const res = await g.api(i).get(`/v1/rooms/${a.room}`, { token: a.token });
      const me = res.body?.me;
      if (res.status !== 200 || me?.memberId !== a.memberId) {
        problems.push(`${a.room}: acknowledged member ${a.memberId} missing on ${g.ids[i]!} (${res.status})`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** A room's state as every node must hold it (what varies with the clock left out). */
function stateOf(view: Json): string {
  return JSON.stringify({ ...view, serverTime: undefined, position: undefined, me: undefined });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
