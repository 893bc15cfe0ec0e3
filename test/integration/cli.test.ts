// The `chorus` CLI end to end against a real node: create-room, join, add (by catalog id, by
// search words, with own metadata), vote by position, queue, skip, history, rooms, search, remove,
// watch; `--json` output parses; failures exit non-zero printing `CODE: message`; `serve --help`
// documents every option; `serve` with a bad flag value exits 2 with a clear message.

/* eslint-disable @typescript-eslint/no-unsafe-return --
   Answers are parsed JSON (Json = any): the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CHORUS_MAIN,
  childEnv,
  cleanupChorus,
  makeTempDir,
  REPO_ROOT,
  runChorus,
  startChorus,
  type ChorusProcess,
  type CliResult,
} from '../helpers/chorus-process.ts';
import { Http, ok, type Json } from '../helpers/http.ts';

let node: ChorusProcess;
let api: Http;
let home: string;

before(async () => {
  node = await startChorus();
  api = new Http(node.restUrl);
  home = await makeTempDir('chorus-cli-');
});

after(async () => {
  try {
    if (node?.running) assert.equal(await node.stop(), 0, node.stderr());
  } finally {
    await cleanupChorus();
  }
});

/** Runs a client command as `who` (each person has their own saved tokens). */
function chorus(who: string, ...args: string[]): Promise<CliResult> {
  return runChorus(args, {
    env: { CHORUS_SERVER: node.restUrl, CHORUS_CREDENTIALS: path.join(home, `${who}.json`) },
  });
}

function succeeded(r: CliResult): string {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

function json(r: CliResult): Json {
  const out = succeeded(r);
  try {
    return JSON.parse(out);
  } catch {
    assert.fail(`--json printed something that is not JSON:\n${out}`);
  }
}

/** A failure: a non-zero exit and `CODE: message` on stderr, no stack trace. */
function failed(r: CliResult, code: string, message?: RegExp): void {
  assert.notEqual(r.code, 0, `expected a failure, got exit 0\nstdout:\n${r.stdout}`);
  assert.match(r.stderr, new RegExp(`\\b${code}: \\S`), `stderr:\n${r.stderr}`);
  if (message) assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

void describe('chorus serve', () => {
  void test('--help documents every option with its environment variable', async () => {
    const r = await runChorus(['serve', '--help']);
    const help = succeeded(r);
    const options: [string, string | null][] = [
      ['--host', 'CHORUS_HOST'],
      ['--port', 'CHORUS_PORT'],
      ['--grpc-port', 'CHORUS_GRPC_PORT'],
      ['--data-dir', 'CHORUS_DATA_DIR'],
      ['--store', 'CHORUS_STORE'],
      ['--secret', 'CHORUS_SECRET'],
      ['--legacy-room', 'CHORUS_LEGACY_ROOM'],
      ['--no-legacy', 'CHORUS_NO_LEGACY'],
      ['--music-dir', 'CHORUS_MUSIC_DIR'],
      ['--demo-catalog', 'CHORUS_DEMO_CATALOG'],
      ['--no-demo-catalog', 'CHORUS_NO_DEMO_CATALOG'],
      ['--public-url', 'CHORUS_PUBLIC_URL'],
      ['--log-level', 'CHORUS_LOG_LEVEL'],
      ['--read-timeout-ms', 'CHORUS_READ_TIMEOUT_MS'],
      ['--clock-interval-ms', 'CHORUS_CLOCK_INTERVAL_MS'],
    ];
    const flat = help.replace(/\s+/g, ' ');
    for (const [flag, env] of options) {
      assert.match(help, new RegExp(`^\\s+${flag}\\b`, 'm'), `--help lacks ${flag}`);
      if (env) assert.ok(flat.includes(`env: ${env}`), `--help does not name ${env} for ${flag}`);
    }
    // The conventions scripts rely on (docs/architecture.md section 3), with their defaults.
    assert.match(flat, /--port <port> .*default: "8080"/);
    assert.match(flat, /--grpc-port <port> .*default: "50051"/);
    assert.match(flat, /--host <host> .*default: "127\.0\.0\.1"/);
    assert.match(flat, /--data-dir <dir> .*default: "\.\/data"/);
    // Every option line has a description.
    for (const line of help.split('\n').filter((l) => /^\s+--/.test(l))) {
      assert.match(line, /^\s+--\S+( <[^>]+>)?\s{2,}\S/, `option without a description: ${line}`);
    }
  });

  void test('a bad flag value exits 2 with a clear message and prints no endpoint', async () => {
    const dataDir = await makeTempDir('chorus-cli-bad-');
    const [port, envPort, many, level] = await Promise.all([
      runChorus(['serve', '--port', 'abc', '--data-dir', dataDir]),
      runChorus(['serve', '--data-dir', dataDir], { env: { CHORUS_PORT: '99999' } }),
      runChorus(['serve', '--port', '-1', '--read-timeout-ms', 'soon', '--data-dir', dataDir]),
      runChorus(['serve', '--log-level', 'loud', '--data-dir', dataDir]),
    ]);
    for (const r of [port, envPort, many, level]) {
      assert.equal(r.code, 2, `exit ${r.code}\nstderr:\n${r.stderr}`);
      assert.doesNotMatch(r.stdout, /^rest /m, 'no endpoint is printed');
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.match(port.stderr, /--port must be a whole number from 0 to 65535 \(got "abc"\)/);
    assert.match(envPort.stderr, /--port .*"99999"/);
    assert.match(many.stderr, /--port .*"-1"/);
    assert.match(many.stderr, /--read-timeout-ms .*"soon"/, 'every problem is reported at once');
    assert.match(level.stderr, /--log-level must be one of .*"loud"/);
  });
});

void describe('client commands', () => {
  const room = 'cli-party';
  let catalogTrack: Json;
  let searchTrack: Json;

  void test('create-room and join save tokens; --json parses', async () => {
    const created = json(
      await chorus('host', 'create-room', 'CLI Party', '--id', room, '--host-name', 'Hostess', '--json'),
    );
    assert.equal(created.room.id, room);
    assert.equal(created.room.me.isHost, true);
    assert.equal(typeof created.token, 'string');
    const saved = JSON.parse(await readFile(path.join(home, 'host.json'), 'utf8')) as Record<string, string>;
    assert.ok(Object.values(saved).includes(created.token as string), 'the host token is saved');

    const joined = succeeded(await chorus('bob', 'join', room, 'Bob'));
    assert.match(joined, /joined cli-party as Bob \(member \S+\)/);
    const bobSaved = JSON.parse(await readFile(path.join(home, 'bob.json'), 'utf8')) as Record<
      string,
      string
    >;
    // One token, beside the client key this profile keeps (a ban refuses it again).
    assert.equal(Object.keys(bobSaved).filter((k) => !k.startsWith('~')).length, 1);
    assert.equal(ok(await api.get(`/v1/rooms/${room}`), 200).memberCount, 2);
  });

  void test('add by catalog id, by search words and with own metadata', async () => {
    [catalogTrack] = ok(await api.get('/v1/catalog/search?limit=1'), 200).tracks as Json[];
    const first = json(await chorus('host', 'add', room, catalogTrack.trackId as string, '--json'));
    assert.equal(first.started, true, 'the first track starts playing');

    // Search words: the best match is added (the same one the API ranks first).
    const pick = (ok(await api.get('/v1/catalog/search?q=&limit=60'), 200).tracks as Json[])[42];
    const words = String(pick.title);
    [searchTrack] = ok(await api.get(`/v1/catalog/search?q=${encodeURIComponent(words)}&limit=1`), 200)
      .tracks as Json[];
    const added = succeeded(await chorus('bob', 'add', room, ...words.split(' ')));
    assert.match(added, /added at position 1: /);
    assert.ok(added.includes(String(searchTrack.title)), added);

    const own = succeeded(
      await chorus('bob', 'add', room, '--title', 'Own Song', '--artist', 'Me', '--duration', '200'),
    );
    assert.match(own, /added at position 2: Me - Own Song \(3:20\)/);

    const view = ok(await api.get(`/v1/rooms/${room}`), 200);
    assert.equal(view.nowPlaying.track.trackId, catalogTrack.trackId);
    assert.deepEqual(
      (view.queue as Json[]).map((q) => q.track.trackId),
      [searchTrack.trackId, 'own:me:own song'],
    );
    assert.equal(view.queue[1].track.durationMs, 200_000);
  });

  void test('vote by position reorders the queue; queue shows it (human and --json)', async () => {
    const voted = succeeded(await chorus('host', 'vote', room, '2', 'up'));
    assert.match(voted, /score 1 \(\+1\/-0\), now at position 1/);
    const q = json(await chorus('bob', 'queue', room, '--json'));
    assert.deepEqual(
      (q.queue as Json[]).map((e) => [e.position, e.track.title, e.score]),
      [
        [1, 'Own Song', 1],
        [2, searchTrack.title, 0],
      ],
    );
    assert.equal(q.me.name, 'Bob', 'the saved token makes Bob the viewer');
    const human = succeeded(await chorus('host', 'queue', room));
    assert.match(human, /^CLI Party \[cli-party\]\s+version \d+, 2 members/m);
    assert.match(human, /^now playing: /m);
    assert.ok(human.includes(String(catalogTrack.title)));
    assert.match(human, /^\s+1\. Me - Own Song \(3:20\)\s+score 1 \(\+1\/-0\) \(you: up\)/m);
    assert.match(human, /^\s+2\. /m);
  });

  void test('skip, history, rooms, search and remove', async () => {
    const skipped = succeeded(await chorus('host', 'skip', room));
    assert.match(skipped, /now playing: Me - Own Song/);
    const [historyJson, historyHuman, roomsJson, roomsHuman, searchJson] = await Promise.all([
      chorus('bob', 'history', room, '--json'),
      chorus('bob', 'history', room),
      chorus('bob', 'rooms', '--json'),
      chorus('bob', 'rooms'),
      chorus('bob', 'search', String(searchTrack.title), '--limit', '3', '--json'),
    ]);
    const history = json(historyJson);
    assert.equal(history.records.length, 1);
    assert.equal(history.records[0].track.trackId, catalogTrack.trackId);
    assert.equal(history.records[0].reason, 'skipped');
    assert.match(succeeded(historyHuman), /^#1\s+.*\s+skipped\s+/m);

    const rooms = json(roomsJson);
    assert.ok(Array.isArray(rooms));
    assert.ok(rooms.some((r: Json) => r.id === room));
    assert.match(
      succeeded(roomsHuman),
      /^cli-party\s+CLI Party\s+\(2 members, 1 queued, playing Me - Own Song\)/m,
    );

    const found = json(searchJson);
    assert.ok((found as Json[]).length >= 1 && (found as Json[]).length <= 3);
    assert.equal(found[0].trackId, searchTrack.trackId);

    const removed = succeeded(await chorus('host', 'remove', room, '1'));
    assert.match(removed, /^removed \S+/);
    assert.equal(ok(await api.get(`/v1/rooms/${room}`), 200).queueLength, 0);
  });

  void test('a track of unknown length (--duration 0): its length and the ETA behind it show as —', async () => {
    succeeded(await chorus('host', 'add', room, '--title', 'Stream', '--artist', 'Radio', '--duration', '0'));
    succeeded(await chorus('host', 'add', room, '--title', 'After', '--artist', 'Me', '--duration', '60'));
    const human = succeeded(await chorus('bob', 'queue', room));
    assert.match(human, /^\s+1\. Radio - Stream \(—\)\s+score 0 .*\s+(now|in \d+ (s|min))\s/m);
    assert.match(human, /^\s+2\. Me - After \(1:00\)\s+score 0 .*\s+—\s/m);
    const q = json(await chorus('bob', 'queue', room, '--json'));
    assert.deepEqual(
      (q.queue as Json[]).map((e) => [e.track.durationMs, e.etaMs === null]),
      [
        [0, false],
        [60_000, true],
      ],
    );
  });

  void test('failures exit non-zero and print CODE: message', async () => {
    // A port nothing listens on.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const [missing, direction, noToken, denied, unreachable, badPosition, unknownTrack] = await Promise.all([
      chorus('bob', 'queue', 'no-such-room'),
      chorus('bob', 'vote', room, '1', 'sideways'),
      chorus('nobody', 'add', room, 'anything'),
      chorus('bob', 'skip', room),
      runChorus(['queue', room, '--server', `http://127.0.0.1:${closedPort}`], {
        env: { CHORUS_CREDENTIALS: path.join(home, 'bob.json') },
      }),
      chorus('bob', 'vote', room, '99', 'up'),
      chorus('bob', 'add', room, 'zzqqxx-no-such-words'),
    ]);
    failed(missing, 'NOT_FOUND', /room no-such-room/);
    failed(direction, 'INVALID_ARGUMENT', /up, down or withdraw/);
    failed(noToken, 'UNAUTHENTICATED', /join/);
    failed(denied, 'PERMISSION_DENIED', /host/);
    failed(unreachable, 'UNAVAILABLE', /cannot reach/);
    assert.doesNotMatch(unreachable.stderr, /bad port/);
    failed(badPosition, 'NOT_FOUND', /position 99/);
    failed(unknownTrack, 'NOT_FOUND');
    assert.equal(missing.code, 1);
  });

  void test('watch prints live changes as JSON lines until interrupted', async () => {
    const child = spawn(process.execPath, [CHORUS_MAIN, 'watch', room, '--json'], {
      cwd: REPO_ROOT,
      env: childEnv({ CHORUS_SERVER: node.restUrl, CHORUS_CREDENTIALS: path.join(home, 'bob.json') }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Json[] = [];
    let stderr = '';
    let partial = '';
    let wake: (() => void) | null = null;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(partial.slice(0, nl)));
        partial = partial.slice(nl + 1);
      }
      wake?.();
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const nextLine = async (n: number): Promise<Json> => {
      const deadline = Date.now() + 15_000;
      while (lines.length < n) {
        if (Date.now() > deadline)
          assert.fail(`watch printed ${lines.length} lines, expected ${n}\n${stderr}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 200);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
      }
      return lines[n - 1];
    };
    try {
      const reset = await nextLine(1);
      assert.equal(reset.event, 'reset');
      assert.equal(reset.data.room.id, room);
      // The saved token goes with the stream: the watcher counts as present in the room.
      const here = await nextLine(2);
      assert.equal(here.data.events[0].type, 'presenceChanged');
      const bob = json(await chorus('bob', 'queue', room, '--json')).me;
      assert.deepEqual(here.data.events[0].present, [bob.memberId]);
      succeeded(await chorus('bob', 'join', room, 'Carol', '--as', 'carol'));
      const change = await nextLine(3);
      assert.equal(change.event, 'change');
      assert.equal(change.data.events[0].type, 'memberJoined');
      assert.equal(change.data.events[0].member.name, 'Carol');
      child.kill('SIGINT');
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

void describe('the first ten minutes: identities, readable watch, version, no npm noise', () => {
  const room = 'cli-watch';

  void test('--as keeps identities apart; join never replaces a saved token without asking', async () => {
    succeeded(await chorus('dana', 'create-room', 'Watch', '--id', room, '--host-name', 'Dana'));
    const refused = await chorus('dana', 'join', room, 'Eve');
    failed(refused, 'FAILED_PRECONDITION', /already saved .*--as NAME.*--replace/);
    // Still the host: a host command works with the saved token.
    succeeded(await chorus('dana', 'skip', room));

    succeeded(await chorus('dana', 'join', room, 'Eve', '--as', 'eve'));
    const asEve = json(await chorus('dana', 'queue', room, '--as', 'eve', '--json'));
    const asDana = json(await chorus('dana', 'queue', room, '--json'));
    assert.equal(asEve.me.name, 'Eve');
    assert.equal(asDana.me.name, 'Dana');
    assert.equal(asDana.me.isHost, true);
    failed(
      await chorus('dana', 'add', room, 'demo:0002', '--as', 'nobody'),
      'UNAUTHENTICATED',
      /--as nobody/,
    );

    // --replace says yes in advance.
    succeeded(await chorus('dana', 'join', room, 'Eve again', '--as', 'eve', '--replace'));
    assert.equal(json(await chorus('dana', 'queue', room, '--as', 'eve', '--json')).me.name, 'Eve again');
  });

  void test('watch prints one readable line per change, with plural and places right', async () => {
    const child = spawn(process.execPath, [CHORUS_MAIN, 'watch', room], {
      cwd: REPO_ROOT,
      env: childEnv({ CHORUS_SERVER: node.restUrl, CHORUS_CREDENTIALS: path.join(home, 'dana.json') }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const waitFor = async (pattern: RegExp): Promise<void> => {
      const deadline = Date.now() + 15_000;
      while (!pattern.test(out)) {
        if (Date.now() > deadline) assert.fail(`watch never printed ${pattern}:\n${out}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await waitFor(/^Watch \[cli-watch\]\s+version \d+, 3 members$/m);
      // Watching with her saved token, Dana is here (present) until she stops.
      await waitFor(/here now: Dana$/m);
      succeeded(await chorus('dana', 'join', room, 'Finn', '--as', 'finn'));
      // autoplay: it starts at once, and the answer names it.
      assert.match(
        succeeded(await chorus('dana', 'add', room, 'demo:0001')),
        /^added .+ - .+ \(\d+:\d\d\); it is playing now$/m,
      );
      succeeded(await chorus('dana', 'add', room, 'demo:0002'));
      succeeded(await chorus('dana', 'add', room, 'demo:0003', '--as', 'finn'));
      succeeded(await chorus('dana', 'vote', room, '2', 'up', '--as', 'finn'));
      succeeded(await chorus('dana', 'vote', room, '1', 'down'));
      // Votes are private: watchers see the counts, never who voted which way.
      await waitFor(/votes on Shadow: 0 \(1 up, 1 down\)/);
      const changes = out.split('\n').filter((l) => /^\d\d:\d\d:\d\d /.test(l));
      assert.deepEqual(
        changes.map((l) => l.slice(9)),
        [
          'here now: Dana',
          'Finn joined',
          'Dana added Sweet Lullaby by Harbor Lights Collective (4:14): #1',
          'now playing: Sweet Lullaby by Harbor Lights Collective (4:14), added by Dana',
          'Dana added Take Me Higher by Harbor Lights Collective (4:12): #1',
          'Finn added Shadow by Harbor Lights Collective (4:43): #2',
          'votes on Shadow: +1 (1 up, 0 down), now #1',
          'votes on Shadow: 0 (1 up, 1 down), now #2',
        ],
        out,
      );
      child.kill('SIGINT');
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill('SIGKILL');
    }
  });

  void test('npx chorus --version and a client command print no warnings', async () => {
    // As a reader's shell runs it: npm from the system PATH (node_modules/.bin left out), which
    // must reach the pinned Node by itself and print nothing of its own.
    const PATH = (process.env['PATH'] ?? '')
      .split(path.delimiter)
      .filter((p) => !p.includes(`node_modules${path.sep}.bin`))
      .join(path.delimiter);
    const npx = (...args: string[]): Promise<CliResult> =>
      new Promise((resolve, reject) => {
        const child = spawn('npx', ['chorus', ...args], {
          cwd: REPO_ROOT,
          env: {
            ...childEnv({ CHORUS_SERVER: node.restUrl, CHORUS_CREDENTIALS: path.join(home, 'dana.json') }),
            PATH,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
        child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
        child.once('error', reject);
        child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
      });
    const { version } = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const v = await npx('--version');
    assert.equal(succeeded(v), `${version}\n`);
    assert.equal(v.stderr, '', 'nothing on stderr');
    const q = await npx('queue', room);
    assert.match(succeeded(q), /^Watch \[cli-watch\]/);
    assert.equal(q.stderr, '', 'nothing on stderr');
  });
});
