// The `chorus` command: `serve` runs a node; the client commands talk to one over REST or gRPC.
// Every flag can also come from a CHORUS_-prefixed environment variable.
// `serve` and `cluster` (their options name every store, which loads them all) are loaded only when
// one of them is asked for: a client command starts without them, in a fraction of a second.

import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { ChorusError } from '../domain/errors.ts';
import { TRANSPORTS } from './api-client.ts';
import { clientCommands, closeClients, DEFAULT_SERVER } from './client.ts';
import { hint } from './errors.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command()
  .name('chorus')
  .description('Chorus: a distributed, collaborative music queue.')
  .version(version, '-V, --version', 'print the version of Chorus')
  .showHelpAfterError('(run with --help for usage)')
  .configureOutput({ outputError: (text, write) => write(text) });

/** True when this run is about `name` (the command itself, or `chorus help name`). */
const wants = (name: string): boolean =>
  process.argv[2] === name || (process.argv[2] === 'help' && process.argv[3] === name);

const serveCommand = program
  .command('serve')
  .description('run one Chorus node (REST API, web page, embedded store by default)');
if (wants('serve')) {
  const { addNodeOptions, serve } = await import('./serve.ts');
  addNodeOptions(
    serveCommand.action(async (options: Record<string, string | boolean | undefined>) => serve(options)),
  );
}

const clusterCommand = program
  .command('cluster')
  .description(
    'run N nodes on this machine behind nginx, sharing a store (Redis) or forming a group (raft, 2pc), until interrupted',
  );
if (wants('cluster')) {
  const { addClusterOptions, cluster } = await import('./cluster.ts');
  addClusterOptions(
    clusterCommand.action(async (options: Record<string, string | string[] | undefined>) => cluster(options)),
  );
}

// `chorus raft …` talks gRPC to a group's admin service: loaded only when asked for, too.
if (wants('raft')) {
  const { addRaftCommands } = await import('./raft.ts');
  addRaftCommands(program);
} else {
  program
    .command('raft')
    .description('change the membership of a Raft group (any member’s gRPC address; followers forward)');
}

program
  .command('repair')
  .description(
    "keep an embedded store's log up to its first damaged record and move the rest aside (stop the node first)",
  )
  .requiredOption('--data-dir <dir>', "the node's data dir")
  .action(async (options: { dataDir: string }) => {
    const { repairLog } = await import('../store/disk/repair.ts');
    try {
      const report = await repairLog(options.dataDir);
      if (report.damagedFile === null) {
        process.stdout.write(
          `no damage found: the log's ${report.kept} records are intact; nothing changed\n`,
        );
        return;
      }
      process.stdout.write(
        `${report.damagedFile} was damaged at byte ${report.offset} (${report.problem}).\n` +
          `kept ${report.kept} records; moved the damaged segment and ${report.movedRecords} intact ` +
          `records after it to ${report.movedTo}\n`,
      );
    } catch (err) {
      process.stderr.write(`chorus repair: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  });

const client = (cmd: Command): Command =>
  cmd
    .addOption(
      new Option('--transport <transport>', 'talk to the node over REST or gRPC')
        .choices(TRANSPORTS)
        .env('CHORUS_TRANSPORT')
        .default('rest'),
    )
    .addOption(
      new Option(
        '--server <address>',
        `the node to talk to (default ${DEFAULT_SERVER.rest} over REST, ${DEFAULT_SERVER.grpc} over gRPC)`,
      ).env('CHORUS_SERVER'),
    )
    .addOption(
      new Option('--token <token>', 'bearer token (default: the one saved by create-room/join)').env(
        'CHORUS_TOKEN',
      ),
    )
    .addOption(
      new Option('--as <name>', 'act as this identity: its own saved token per room (default: none)').env(
        'CHORUS_AS',
      ),
    )
    .addOption(new Option('--json', 'print JSON for scripts'));

for (const spec of clientCommands) {
  const cmd = client(program.command(spec.usage).description(spec.description));
  for (const option of spec.options ?? []) cmd.addOption(option);
  cmd.action(async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    // A variadic argument (`add <room> [track...]`) arrives as an array: flatten it into words.
    const positional = (args.slice(0, -2) as Array<string | string[]>).flat();
    try {
      await spec.run(positional, command.opts());
    } catch (err) {
      if (err instanceof ChorusError) {
        process.stderr.write(`chorus ${spec.usage.split(' ')[0] ?? ''}: ${err.code}: ${err.message}\n`);
        // The room is the first argument of every command that names one.
        const roomId = spec.usage.includes('<room>') ? positional[0] : undefined;
        const as = command.opts<{ as?: string }>().as;
        const advice = hint(err, roomId, as ? ` --as ${as}` : '');
        if (advice) process.stderr.write(`  ${advice}\n`);
        process.exitCode = 1;
        return;
      }
      throw err;
    } finally {
      closeClients();
    }
  });
}

await program.parseAsync(process.argv);
