// `chorus cluster`: N local nodes behind nginx, sharing a store (Redis) or forming a group (raft,
// 2pc). Prints the load balancer's endpoints first (`rest http://…`, `grpc …`), then
// `node N rest … grpc … pid …` per node, `log N FILE` per node, `members voters nI … [learners …]`
// on a group store (node N's id is nN), `redis URL` on the redis store (a redis-cluster:// URL with
// --redis-shards), then reports and restarts any process that dies; Ctrl-C or SIGTERM stops
// everything.

import { Option, type Command } from 'commander';
import { startCluster, type ApiFront, type ClusterOptions } from '../cluster/cluster.ts';
import { sharedStoreKinds } from '../store/registry.ts';
import { cliError } from './errors.ts';

export function addClusterOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--nodes <n>', 'how many chorus nodes').env('CHORUS_NODES').default('3'))
    .addOption(
      new Option(
        '--learners <k>',
        'raft: this many more nodes, added as learners (they replicate and serve reads, never vote)',
      )
        .env('CHORUS_LEARNERS')
        .default('0'),
    )
    .addOption(
      new Option('--store <kind>', `shared store: ${sharedStoreKinds().join(' | ')}`)
        .env('CHORUS_STORE')
        .default('redis')
        .choices(sharedStoreKinds()),
    )
    .addOption(
      new Option('--api <front>', 'what the load balancer serves')
        .env('CHORUS_API')
        .default('both')
        .choices(['rest', 'grpc', 'both']),
    )
    .addOption(new Option('--host <host>', 'address for everything').env('CHORUS_HOST').default('127.0.0.1'))
    .addOption(
      new Option('--port <port>', 'load balancer REST port; nodes use the next ports (0: free ports)')
        .env('CHORUS_PORT')
        .default('8080'),
    )
    .addOption(
      new Option('--grpc-port <port>', 'load balancer gRPC port; nodes use the next ports (0: free ports)')
        .env('CHORUS_GRPC_PORT')
        .default('50051'),
    )
    .addOption(
      new Option('--data-dir <dir>', 'folder for the cluster (Redis data, nginx config, node data)')
        .env('CHORUS_DATA_DIR')
        .default('./data/cluster'),
    )
    .addOption(
      new Option('--redis-url <url>', 'use this Redis instead of starting one').env('CHORUS_REDIS_URL'),
    )
    .addOption(
      new Option(
        '--redis-shards <n>',
        'redis: start a Redis Cluster of n primaries (1 to 16) instead of one Redis; rooms are spread over them',
      )
        .env('CHORUS_REDIS_SHARDS')
        .default('0'),
    )
    .addOption(
      new Option(
        '--redis-replicas <r>',
        'with --redis-shards: replicas per primary (0 to 2), which take over when it fails',
      )
        .env('CHORUS_REDIS_REPLICAS')
        .default('0'),
    )
    .addOption(
      new Option(
        '--ready-timeout <seconds>',
        'how long each node (and Redis) may take to be ready before the cluster gives up and stops',
      )
        .env('CHORUS_CLUSTER_READY_TIMEOUT')
        .default('60'),
    )
    .addOption(
      new Option(
        '--secret <secret>',
        'token secret shared by the nodes (default: generated once into the data dir and kept; prefer CHORUS_SECRET: a command line is readable by every local user)',
      ).env('CHORUS_SECRET'),
    )
    .addOption(
      new Option('--node-arg <arg...>', 'extra flag passed to every node, e.g. --node-arg=--log-level=warn'),
    );
}

function whole(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw cliError('OPTION_NOT_WHOLE', { flag: name, min, max, given: text });
  return n;
}

export async function cluster(opts: Record<string, string | string[] | undefined>): Promise<void> {
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  let running;
  try {
    running = await startCluster({
      nodes: whole('--nodes', String(opts['nodes']), 1, 50),
      learners: whole('--learners', String(opts['learners']), 0, 49),
      store: String(opts['store']) as ClusterOptions['store'],
      api: opts['api'] as ApiFront,
      host: String(opts['host']),
      port: whole('--port', String(opts['port']), 0, 65535),
      grpcPort: whole('--grpc-port', String(opts['grpcPort']), 0, 65535),
      dataDir: String(opts['dataDir']),
      redisUrl: typeof opts['redisUrl'] === 'string' ? opts['redisUrl'] : null,
      redisShards: whole('--redis-shards', String(opts['redisShards']), 0, 16),
      redisReplicas: whole('--redis-replicas', String(opts['redisReplicas']), 0, 2),
      readyMs: whole('--ready-timeout', String(opts['readyTimeout']), 1, 3600) * 1000,
      secret: typeof opts['secret'] === 'string' ? opts['secret'] : null,
      nodeArgs: Array.isArray(opts['nodeArg']) ? opts['nodeArg'] : [],
      // Progress goes to stderr while starting; the endpoint lines are printed once all is ready.
      log: (line) => void process.stderr.write(`${line}\n`),
    });
  } catch (err) {
    process.stderr.write(`chorus cluster: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  if (running.rest) log(`rest ${running.rest}`);
  if (running.grpc) log(`grpc ${running.grpc}`);
  const nodes = running.nodes();
  for (const n of nodes) log(`node ${n.index} rest ${n.rest}${n.grpc ? ` grpc ${n.grpc}` : ''} pid ${n.pid}`);
  // Lines of their own, after the node lines, so scripts reading `node N … pid PID` keep working.
  for (const n of nodes) log(`log ${n.index} ${n.log}`);
  const ids = (learner: boolean): string =>
    nodes
      .filter((n) => n.learner === learner && n.id !== null)
      .map((n) => n.id!)
      .join(' ');
  if (nodes.some((n) => n.id !== null))
    log(`members voters ${ids(false)}${nodes.some((n) => n.learner) ? ` learners ${ids(true)}` : ''}`);
  if (running.redisUrl !== null) log(`redis ${running.redisUrl}`);
  process.stderr.write('cluster ready; Ctrl-C stops it\n');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: stopping the cluster\n`);
    running.stop().then(
      () => {
        process.stderr.write('cluster stopped\n');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`stop failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
