// The `chorus` commands of hosts and guests (issue 20) against a real node, over REST and over gRPC
// alike (the same steps and checks per transport): create-room prints the recovery key once,
// members (with who is present), role, kick with and without ban, recover, hand-over, passcode
// joins, settings, approval (pending, approve, deny, a join waiting for the decision), a new
// invite for a private room; refusals print `CODE: message` and a line of advice.

/* eslint-disable @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call --
   Answers are parsed JSON (Json = any): the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CHORUS_MAIN,
  childEnv,
  cleanupChorus,
  makeTempDir,
  REPO_ROOT,
  runChorus,
  type CliResult,
} from '../helpers/chorus-process.ts';
import { startGrpcNode, type GrpcNode } from '../helpers/grpc-node.ts';
import type { Json } from '../helpers/http.ts';
import { until } from '../helpers/until.ts';

let node: GrpcNode;
let home: string;

before(async () => {
  node = await startGrpcNode();
  home = await makeTempDir('chorus-cli-access-');
});

after(async () => {
  try {
    if (node?.running()) assert.equal(await node.stop(), 0, node.stderr());
  } finally {
    await cleanupChorus();
  }
});

const TRANSPORTS = ['rest', 'grpc'] as const;
type Transport = (typeof TRANSPORTS)[number];

function env(transport: Transport, who: string): Record<string, string> {
  return {
    CHORUS_TRANSPORT: transport,
    CHORUS_SERVER: transport === 'rest' ? node.restUrl : node.grpcAddress,
    // One CLI profile per person (its own tokens and client key, as on their own machine).
    CHORUS_CREDENTIALS: path.join(home, `${transport}-${who}.json`),
  };
}

function succeeded(r: CliResult): string {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

function json(r: CliResult): Json {
  return JSON.parse(succeeded(r));
}

/** A refusal: exit 1, `CODE: message` on stderr, no stack trace, and the advice expected. */
function refused(r: CliResult, code: string, message: RegExp, advice?: RegExp): void {
  assert.equal(r.code, 1, `expected a refusal\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`: ${code}: `), r.stderr);
  assert.match(r.stderr, message);
  if (advice) assert.match(r.stderr, advice);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

// The two transports run side by side (each person has a profile per transport, so they share no
// file); within one, the steps run in order (a suite's concurrency is inherited: each says 1).
void describe('chorus host and join commands', { concurrency: true }, () => {
  for (const transport of TRANSPORTS) {
    void describe(`over ${transport}`, { concurrency: 1 }, () => {
      const as = (who: string) => ({
        run: (...args: string[]) => runChorus(args, { env: env(transport, who) }),
      });
      const ann = as('ann');
      const bob = as('bob');
      const cat = as('cat');

      void describe(`chorus host commands over ${transport}`, { concurrency: 1 }, () => {
        const room = `hosts-${transport}`;
        let recoveryKey = '';

        void test('create-room prints the recovery key once, with a line telling to keep it', async () => {
          const out = succeeded(await ann.run('create-room', 'Hosts', '--id', room, '--host-name', 'Ann'));
          const key = /^recovery-key (\S+)$/m.exec(out);
          assert.ok(key, out);
          recoveryKey = key[1]!;
          assert.match(out, /keep it somewhere safe: it is shown only this once/);
          assert.match(out, new RegExp(`chorus recover ${room} --key KEY`));
          succeeded(await bob.run('join', room, 'Bob'));
          succeeded(await cat.run('join', room, 'Cat'));
        });

        void test('members lists name, role, present and joined; only hosts may see it', async () => {
          // Bob watches with his saved token: he is present while the stream is open.
          const watcher = spawn(process.execPath, [CHORUS_MAIN, 'watch', room, '--json'], {
            cwd: REPO_ROOT,
            env: childEnv(env(transport, 'bob')),
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          const exited = new Promise<number | null>((resolve) => watcher.once('exit', resolve));
          try {
            const table = await until(
              'Bob present in `chorus members`',
              async () => {
                const out = succeeded(await ann.run('members', room));
                return /^Bob\s+member\s+yes\s/m.test(out) ? out : undefined;
              },
              { timeoutMs: 30_000, intervalMs: 300 },
            );
            assert.match(table, /^NAME\s+ROLE\s+PRESENT\s+JOINED\s+ID$/m);
            // The node counts the stream and its member in its presence metrics (the other transport's
            // steps share this node: at least this watcher).
            const metrics = await (await fetch(`${node.restUrl}/metrics`)).text();
            for (const name of ['chorus_presence_members', 'chorus_presence_streams'])
              assert.match(metrics, new RegExp(`^${name} [1-9]`, 'm'), `${name} counts the watcher`);
            assert.match(metrics, /^chorus_presence_commands_total\{outcome="applied"\} [1-9]/m);
            assert.match(table, /^Ann\s+host\s+no\s+\d\d:\d\d \([^)]+\)\s+m_\S+$/m);
            assert.match(table, /^Cat\s+member\s+no\s/m);
            const listing = json(await ann.run('members', room, '--json'));
            const bobId = listing.members.find((m: Json) => m.name === 'Bob').memberId;
            assert.deepEqual(listing.present, [bobId]);
            assert.deepEqual(
              listing.members.map((m: Json) => [m.name, m.role]),
              [
                ['Ann', 'host'],
                ['Bob', 'member'],
                ['Cat', 'member'],
              ],
            );
          } finally {
            watcher.kill('SIGINT');
          }
          assert.equal(await exited, 0);
          refused(
            await bob.run('members', room),
            'PERMISSION_DENIED',
            /only the host can see the members/,
            /needs the host's \(or a co-host's\) token/,
          );
        });

        void test('role makes a co-host, who kicks a plain member (entries dropped); a kicked member is told', async () => {
          // Ann's track plays (autoplay); Cat's waits in the queue.
          succeeded(await ann.run('add', room, 'demo:0003'));
          succeeded(await cat.run('add', room, 'demo:0004'));
          assert.match(
            succeeded(await ann.run('role', room, 'Bob', 'cohost')),
            /^Bob \(m_\S+\) is now a co-host$/m,
          );
          refused(await ann.run('role', room, 'Bob', 'boss'), 'INVALID_ARGUMENT', /cohost or member/);
          const kicked = succeeded(await bob.run('kick', room, 'cat', '--drop-entries'));
          assert.match(kicked, /^removed cat \(m_\S+\); 1 of their entries removed$/m);
          refused(
            await cat.run('add', room, 'demo:0005'),
            'PERMISSION_DENIED',
            /not a member of room/,
            /the host may have removed you/,
          );
          refused(await ann.run('kick', room, 'Nobody'), 'NOT_FOUND', /no member named "Nobody"/);
        });

        void test('a ban refuses the token and the re-join of the same CLI profile', async () => {
          succeeded(await cat.run('join', room, 'Cat', '--replace'));
          assert.match(succeeded(await ann.run('kick', room, 'Cat', '--ban')), /^banned Cat /m);
          refused(
            await cat.run('add', room, 'demo:0005'),
            'PERMISSION_DENIED',
            /banned/,
            /the host banned this identity/,
          );
          refused(await cat.run('join', room, 'Cat', '--replace'), 'PERMISSION_DENIED', /banned/);
          const listing = json(await ann.run('members', room, '--json'));
          assert.deepEqual(
            listing.banned.map((b: Json) => b.name),
            ['Cat'],
          );
          assert.match(succeeded(await ann.run('members', room)), /^banned: Cat /m);
        });

        void test('recover with the key saves a new host identity; the old token no longer opens host commands', async () => {
          refused(
            await ann.run('recover', room, '--key', 'x'.repeat(32), '--as', 'laptop'),
            'PERMISSION_DENIED',
            /recovery key/,
          );
          const out = succeeded(await ann.run('recover', room, '--key', recoveryKey, '--as', 'laptop'));
          assert.match(out, /you are the host of .+ again/);
          const me = json(await ann.run('queue', room, '--json', '--as', 'laptop')).me;
          assert.equal(me.role, 'host');
          refused(await ann.run('members', room), 'PERMISSION_DENIED', /only the host/);
          // The host identity after recovery hands the room over; it stays on as a co-host.
          const handed = succeeded(await ann.run('hand-over', room, 'Bob', '--as', 'laptop'));
          assert.match(handed, /Bob \(m_\S+\) is now the host/);
          assert.match(handed, new RegExp(`recovery key no longer works: .*chorus recovery-key ${room}`));
          const roles = json(await bob.run('members', room, '--json')).members.map(
            (m: Json) => `${m.name} ${m.role}`,
          );
          assert.deepEqual(roles.sort(), ['Ann cohost', 'Bob host']);
          refused(
            await ann.run('hand-over', room, 'Bob', '--as', 'laptop'),
            'PERMISSION_DENIED',
            /only the host/,
          );
        });

        void test('a hand-over retires the recovery key; recovery-key prints the new host a new one', async () => {
          refused(
            await ann.run('recover', room, '--key', recoveryKey, '--as', 'spare'),
            'PERMISSION_DENIED',
            /recovery key was retired/,
            new RegExp(`its host makes a new one with \`chorus recovery-key ${room}\``),
          );
          refused(
            await ann.run('recovery-key', room, '--as', 'laptop'),
            'PERMISSION_DENIED',
            /only the host can make a recovery key/,
          );
          const out = succeeded(await bob.run('recovery-key', room));
          const key = /^recovery-key (\S+)$/m.exec(out)?.[1];
          assert.ok(key, out);
          assert.match(out, /keep it somewhere safe: it is shown only this once/);
          assert.match(out, new RegExp(`chorus recover ${room} --key KEY`));
          assert.notEqual(key, recoveryKey);
          const newest = String(json(await bob.run('recovery-key', room, '--json')).recoveryKey);
          assert.match(newest, /^[A-Za-z0-9_-]{32}$/);
          refused(
            await bob.run('recover', room, '--key', key, '--as', 'spare'),
            'PERMISSION_DENIED',
            /retired/,
          );
          const back = succeeded(await bob.run('recover', room, '--key', newest, '--as', 'spare'));
          assert.match(back, /you are the host of .+ again/);
        });
      });

      void describe(`chorus join control over ${transport}`, { concurrency: 1 }, () => {
        const room = `joins-${transport}`;
        const dan = as('dan');
        const eve = as('eve');
        const fay = as('fay');

        void test('a passcode room: join without or with a wrong passcode is refused with advice', async () => {
          succeeded(
            await ann.run('create-room', 'Joins', '--id', room, '--host-name', 'Ann', '--passcode', 'sesame'),
          );
          refused(
            await dan.run('join', room, 'Dan'),
            'PERMISSION_DENIED',
            /needs its passcode/,
            /--passcode CODE/,
          );
          refused(await dan.run('join', room, 'Dan', '--passcode', 'nope'), 'PERMISSION_DENIED', /not right/);
          assert.match(succeeded(await dan.run('join', room, 'Dan', '--passcode', 'sesame')), /^joined /m);
        });

        void test('settings shows and changes join policy, member cap, joins a minute and skip share', async () => {
          assert.match(succeeded(await ann.run('settings', room)), /join-policy passcode/);
          const out = succeeded(
            await ann.run(
              'settings',
              room,
              '--join-policy',
              'approval',
              '--max-members',
              '5',
              '--joins-per-minute',
              '30',
              '--skip-share',
              '0.4',
            ),
          );
          assert.match(
            out,
            /join-policy approval\n {2}max-members 5\n {2}joins-per-minute 30\n {2}skip-share 0.4/,
          );
          const settings = json(await ann.run('settings', room, '--json'));
          assert.deepEqual(
            [settings.joinPolicy, settings.maxMembers, settings.joinsPerMinute, settings.skipShare],
            ['approval', 5, 30, 0.4],
          );
          refused(
            await ann.run('settings', room, '--max-members', 'many'),
            'INVALID_ARGUMENT',
            /--max-members/,
          );
          refused(
            await dan.run('settings', room, '--max-members', '9'),
            'PERMISSION_DENIED',
            /only the host/,
          );
        });

        void test('approval: pending lists requests; approve admits a waiting join, deny turns one away', async () => {
          const asked = succeeded(await eve.run('join', room, 'Eve', '--wait', '0'));
          assert.match(asked, /^asked to join .+; the host decides$/m);
          // Fay waits for the decision (the command returns once the host decides).
          const waiting = fay.run('join', room, 'Fay', '--wait', '60');
          await until(
            'Fay in `chorus pending`',
            async () => {
              const out = succeeded(await ann.run('pending', room));
              return /^Fay\s/m.test(out) ? out : undefined;
            },
            { timeoutMs: 30_000, intervalMs: 300 },
          );
          assert.match(succeeded(await ann.run('pending', room)), /^Eve\s+m_\S+$/m);
          assert.match(succeeded(await ann.run('approve', room, 'Fay')), /^admitted Fay /m);
          assert.match(succeeded(await waiting), /the host admitted you/);
          succeeded(await fay.run('add', room, 'demo:0006'));

          const denied = eve.run('queue', room, '--json');
          assert.equal(json(await denied).joinPending, true);
          refused(
            await eve.run('add', room, 'demo:0007'),
            'PERMISSION_DENIED',
            /waits for the host/,
            /not admitted you yet/,
          );
          assert.match(succeeded(await ann.run('deny', room, 'Eve')), /^turned away Eve /m);
          refused(await ann.run('approve', room, 'Eve'), 'NOT_FOUND', /no join request named "Eve"/);
          assert.equal(succeeded(await ann.run('pending', room)).trim(), 'no join request waits');
        });

        void test('a join waiting for a host who turns it away ends with a refusal', async () => {
          const gus = as('gus');
          const waiting = gus.run('join', room, 'Gus', '--wait', '60');
          await until(
            'Gus in `chorus pending`',
            async () => {
              const out = succeeded(await ann.run('pending', room));
              return /^Gus\s/m.test(out) ? out : undefined;
            },
            { timeoutMs: 30_000, intervalMs: 300 },
          );
          succeeded(await ann.run('deny', room, 'Gus'));
          refused(await waiting, 'PERMISSION_DENIED', /turned your join request away/);
        });

        void test('invite makes a new link for a private room; the old invite stops opening it', async () => {
          const hidden = `hidden-${transport}`;
          const created = succeeded(await ann.run('create-room', 'Hidden', '--id', hidden, '--private'));
          const first = /^invite (\S+) /m.exec(created)![1]!;
          const out = succeeded(await ann.run('invite', hidden));
          const second = /^invite (\S+) /m.exec(out)![1]!;
          assert.notEqual(second, first);
          if (transport === 'rest') {
            assert.match(out, new RegExp(`^link ${node.restUrl}/r/${hidden}\\?invite=${second}$`, 'm'));
          }
          refused(
            await dan.run('join', hidden, 'Dan', '--invite', first),
            'NOT_FOUND',
            /does not exist/,
            /a private room is found only with its invite/,
          );
          succeeded(await dan.run('join', hidden, 'Dan', '--invite', second));
        });

        void test('join --invite keeps the invite for the room: history and watch work without a member token', async () => {
          const hidden = `hidden-${transport}`;
          // Another identity of Dan's profile has no token for the room: the saved invite opens it.
          assert.match(
            succeeded(await dan.run('history', hidden, '--as', 'reader')),
            /nothing has played yet/,
          );
          assert.equal(json(await dan.run('queue', hidden, '--json', '--as', 'reader')).id, hidden);
          const watched = succeeded(await dan.run('watch', hidden, '--for', '2', '--as', 'reader'));
          assert.match(watched, /^Hidden \[hidden-/m, 'the watch printed the room, then stopped by itself');
          // A profile that never had the invite is refused as for a room that does not exist.
          refused(await eve.run('history', hidden), 'NOT_FOUND', /does not exist/);
          refused(await eve.run('watch', hidden, '--for', '2'), 'NOT_FOUND', /does not exist/);
          refused(await eve.run('watch', hidden, '--for', 'soon'), 'INVALID_ARGUMENT', /--for/);
        });

        void test('a member watching is told when the host removes them, and the watch ends with status 1', async () => {
          const hidden = `hidden-${transport}`;
          const watching = dan.run('watch', hidden, '--json');
          // Dan's stream counts him present: once the host sees it, the stream is open.
          await until(
            'Dan present while watching',
            async () => {
              const out = succeeded(await ann.run('members', hidden));
              return /^Dan\s+member\s+yes\s/m.test(out) ? out : undefined;
            },
            { timeoutMs: 30_000, intervalMs: 300 },
          );
          succeeded(await ann.run('kick', hidden, 'Dan', '--ban'));
          const ended = await watching;
          refused(ended, 'PERMISSION_DENIED', /the host banned you from room .+; the watch ended/);
          const last = JSON.parse(ended.stdout.trim().split('\n').at(-1)!);
          assert.equal(last.event, 'removed');
          assert.equal(last.data.banned, true);
        });
      });
    });
  }
});
