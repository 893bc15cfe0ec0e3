// The 2PC store's Prometheus metrics, declared as data (the store-telemetry convention: the node
// registers exactly these, the store reports through StoreTelemetry and never imports prom-client),
// and the reporter that turns the core's status into them. The core counts per life of the node in
// plain numbers (it does no I/O); the reporter sends only what changed since its last report, so a
// counter here only ever grows, and sets the gauges from the same status.

import type { MetricSpec, StoreTelemetry } from '../telemetry.ts';
import type { Counters, Status } from './types.ts';

export const TWOPC_METRICS: readonly MetricSpec[] = [
  {
    name: 'chorus_2pc_prepares_total',
    help: 'PREPARED records forced on this node (each one a YES vote)',
    kind: 'counter',
  },
  { name: 'chorus_2pc_votes_no_total', help: 'NO votes this node gave', kind: 'counter' },
  {
    name: 'chorus_2pc_commits_total',
    help: 'Transactions committed and applied on this node (as coordinator or participant)',
    kind: 'counter',
  },
  {
    name: 'chorus_2pc_aborts_total',
    help: 'Attempts this node coordinated and aborted, by reason (locked, version, timeout, in-doubt, asked, restart, ...)',
    kind: 'counter',
    labels: ['reason'],
  },
  {
    name: 'chorus_2pc_retries_total',
    help: 'Attempts retried after a lost lock race or a position mismatch',
    kind: 'counter',
  },
  {
    name: 'chorus_2pc_went_in_doubt_total',
    help: 'Prepared transactions that outlived the vote deadline here and had to ask for their decision',
    kind: 'counter',
  },
  {
    name: 'chorus_2pc_catch_up_entries_total',
    help: 'Committed commands learned from a peer by catch-up',
    kind: 'counter',
  },
  {
    name: 'chorus_2pc_in_doubt',
    help: 'Prepared transactions in doubt now (voted YES, decision unknown, asking)',
    kind: 'gauge',
  },
  {
    name: 'chorus_2pc_prepared',
    help: 'Size of the prepared table (prepared, undecided transactions; bounded)',
    kind: 'gauge',
  },
  {
    name: 'chorus_2pc_awaiting_acks',
    help: 'Committed transactions this node coordinated that not every node has acknowledged yet',
    kind: 'gauge',
  },
  { name: 'chorus_2pc_peers_reachable', help: 'Nodes heard from recently, this one included', kind: 'gauge' },
  {
    name: 'chorus_2pc_commit_duration_seconds',
    help: 'From a write taken by this node to its commit applied here (all attempts included)',
    kind: 'histogram',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  },
  {
    name: 'chorus_2pc_catch_up_refused_total',
    help: 'Catch-up requests from below what this node keeps (a peer that lost its data dir asks them)',
    kind: 'counter',
  },
  {
    name: 'chorus_2pc_snapshots_total',
    help: 'Snapshots written (each compacts the log before it)',
    kind: 'counter',
  },
  {
    name: 'chorus_2pc_snapshot_duration_seconds',
    help: 'From the checkpoint to the snapshot durable and the log before it deleted',
    kind: 'histogram',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
  { name: 'chorus_2pc_snapshot_bytes', help: 'Size of the newest snapshot file', kind: 'gauge' },
  { name: 'chorus_2pc_snapshot_lsn', help: 'Log position the newest snapshot covers', kind: 'gauge' },
  {
    name: 'chorus_2pc_log_segments',
    help: 'Segment files of the log (compaction deletes the old ones)',
    kind: 'gauge',
  },
];

const COUNTERS: readonly [Exclude<keyof Counters, 'aborts'>, string][] = [
  ['prepares', 'chorus_2pc_prepares_total'],
  ['votesNo', 'chorus_2pc_votes_no_total'],
  ['commits', 'chorus_2pc_commits_total'],
  ['retries', 'chorus_2pc_retries_total'],
  ['inDoubt', 'chorus_2pc_went_in_doubt_total'],
  ['catchUpEntries', 'chorus_2pc_catch_up_entries_total'],
  ['catchUpRefused', 'chorus_2pc_catch_up_refused_total'],
];

/** Reports one node's status: counter increments since the last report, and the gauges. */
export class TwoPcMetrics {
  private readonly telemetry: StoreTelemetry;
  private last: Counters | null = null;

  constructor(telemetry: StoreTelemetry) {
    this.telemetry = telemetry;
  }

  report(status: Status, log?: { readonly snapshotLsn: number; readonly segments: number }): void {
    const { telemetry } = this;
    const now = status.counters;
    const before = this.last;
    for (const [key, name] of COUNTERS) {
      const by = now[key] - (before?.[key] ?? 0);
      if (by > 0) telemetry.count(name, {}, by);
    }
    for (const [reason, n] of Object.entries(now.aborts)) {
      const by = n - (before?.aborts[reason as keyof Counters['aborts']] ?? 0);
      // Every reason appears once at 0, so the series exist before the first abort.
      if (by > 0 || before === null) telemetry.count('chorus_2pc_aborts_total', { reason }, Math.max(by, 0));
    }
    this.last = structuredClone(now);
    telemetry.set('chorus_2pc_in_doubt', status.inDoubt.length);
    telemetry.set('chorus_2pc_prepared', status.preparedCount);
    telemetry.set('chorus_2pc_awaiting_acks', status.awaitingAcks);
    telemetry.set('chorus_2pc_peers_reachable', status.peersReachable.length);
    if (log !== undefined) {
      telemetry.set('chorus_2pc_snapshot_lsn', log.snapshotLsn);
      telemetry.set('chorus_2pc_log_segments', log.segments);
    }
  }

  /** A snapshot was written and the log before it deleted. */
  snapshotTaken(bytes: number, seconds: number): void {
    this.telemetry.count('chorus_2pc_snapshots_total', {}, 1);
    this.telemetry.set('chorus_2pc_snapshot_bytes', bytes);
    this.telemetry.observe('chorus_2pc_snapshot_duration_seconds', seconds);
  }

  /** A write this node coordinated committed, `seconds` after it was taken. */
  committed(seconds: number): void {
    this.telemetry.observe('chorus_2pc_commit_duration_seconds', seconds);
  }
}
