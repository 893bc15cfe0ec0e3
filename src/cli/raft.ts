// `chorus raft …`: membership administration of a Raft group, on any member's gRPC address (a
// follower passes the call on to the leader). Authenticated with the cluster secret (--secret or,
// better, CHORUS_SECRET: a command line is readable by every local user). Each command waits until
// the change is applied on the leader and prints the membership it has then; it fails with the
// group's own words when another change is in progress (FAILED_PRECONDITION) or no leader is known
// (UNAVAILABLE).

import { Option, type Command } from 'commander';
import type { Membership__Output } from '../api/grpc/generated/chorus/raft/v1/index.ts';
import { ChorusError } from '../domain/index.ts';
import { raftAdmin, type RaftAdmin } from '../store/raft/admin.ts';
import { cliError } from './errors.ts';

interface RaftOptions {
  server: string;
  secret?: string;
  timeoutMs: string;
}

function describe(m: Membership__Output): string {
  const list = (ms: Membership__Output['voters']): string =>
    ms.length === 0 ? '(none)' : ms.map((x) => `${x.id}=${x.address}`).join(', ');
  return [
    `leader ${m.leader || '(none known)'} term ${m.term}${Number(m.index) > 0 ? ` at log index ${m.index}` : ''}`,
    `voters ${list(m.voters)}`,
    `learners ${list(m.learners)}`,
  ].join('\n');
}

async function run(
  options: RaftOptions,
  call: (admin: RaftAdmin) => Promise<Membership__Output>,
): Promise<void> {
  const secret = options.secret ?? '';
  if (secret === '') {
    process.stderr.write('chorus raft: needs the cluster secret: CHORUS_SECRET (or --secret)\n');
    process.exitCode = 2;
    return;
  }
  const admin = raftAdmin(options.server, secret, Number(options.timeoutMs));
  try {
    process.stdout.write(`${describe(await call(admin))}\n`);
  } catch (err) {
    const e = err instanceof ChorusError ? err : null;
    const leaderAddress = e?.details?.['leaderAddress'];
    const hint = typeof leaderAddress === 'string' ? ` (leader at ${leaderAddress})` : '';
    process.stderr.write(
      `chorus raft (asked ${options.server}): ${e ? `${e.code}: ` : ''}${(err as Error).message}${hint}\n`,
    );
    process.exitCode = 1;
  } finally {
    admin.close();
  }
}

function member(spec: string): { id: string; address: string } {
  const m = /^([^=\s]+)=(\S+:\d{1,5})$/.exec(spec);
  if (!m) throw cliError('RAFT_MEMBER_SPEC', { spec });
  return { id: m[1]!, address: m[2]! };
}

export function addRaftCommands(program: Command): void {
  const raft = program
    .command('raft')
    .description('change the membership of a Raft group (any member’s gRPC address; followers forward)');
  const common = (cmd: Command): Command =>
    cmd
      .addOption(
        new Option('--server <host:port>', 'gRPC address of any member')
          .env('CHORUS_RAFT_SERVER')
          .default('127.0.0.1:50051'),
      )
      .addOption(
        new Option('--secret <secret>', 'the cluster secret (prefer CHORUS_SECRET)').env('CHORUS_SECRET'),
      )
      .addOption(new Option('--timeout-ms <ms>', 'how long to wait for the change').default('20000'));
  common(
    raft
      .command('add-member <member>')
      .description(
        'add ID=HOST:GRPC_PORT (a node started with --join) as a voter, or with --learner as a learner',
      )
      .option('--learner', 'add it as a learner (replicates and serves reads, never votes)'),
  ).action(async (spec: string, options: RaftOptions & { learner?: boolean }) => {
    let m;
    try {
      m = member(spec);
    } catch (err) {
      process.stderr.write(`chorus raft: ${(err as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    await run(options, (a) => a.change(options.learner ? 'addLearner' : 'addVoter', m.id, m.address));
  });
  common(raft.command('promote <id>').description('make a learner a voter')).action(
    async (id: string, options: RaftOptions) => run(options, (a) => a.change('addVoter', id)),
  );
  common(raft.command('remove-member <id>').description('remove a voter or a learner from the group')).action(
    async (id: string, options: RaftOptions) => run(options, (a) => a.change('removeNode', id)),
  );
  common(
    raft
      .command('transfer-leader [id]')
      .description('hand leadership to a voter (default: the most up-to-date one)'),
  ).action(async (id: string | undefined, options: RaftOptions) => run(options, (a) => a.transfer(id ?? '')));
}
