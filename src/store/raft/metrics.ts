// The Raft store's Prometheus metrics, declared as data (RAFT_METRICS, in the registry entry) and
// reported through the StoreTelemetry the node opened the store with (src/store/telemetry.ts).
// RaftMetrics watches the Ready loop: it never touches the core, it only reads what the loop hands
// it (the Ready, the role and indexes after advance), so metrics cannot change what Raft does.
//
// Invariants: elections started counts each time this node becomes a candidate (pre-votes that
// fail are not elections: the term does not move); won counts each time it becomes leader; commit
// latency is measured on the leader only, from the proposal to the Ready that commits it, and a
// proposal lost to a leader change is dropped, not observed.

import type { MetricSpec, StoreTelemetry } from '../telemetry.ts';
import type { RaftNode } from './node.ts';
import type { Message, Ready, Role } from './types.ts';

const ROLES: readonly string[] = ['follower', 'preCandidate', 'candidate', 'leader', 'learner'];

export const RAFT_METRICS: readonly MetricSpec[] = [
  { name: 'chorus_raft_term', help: 'The Raft term this node is in', kind: 'gauge' },
  {
    name: 'chorus_raft_role',
    help: 'This node’s Raft role: 1 for the role it has, 0 for the others',
    kind: 'gauge',
    labels: ['role'],
  },
  { name: 'chorus_raft_is_leader', help: '1 while this node leads the group', kind: 'gauge' },
  { name: 'chorus_raft_commit_index', help: 'Highest log index this node knows committed', kind: 'gauge' },
  { name: 'chorus_raft_applied_index', help: 'Highest log index applied to the rooms here', kind: 'gauge' },
  { name: 'chorus_raft_last_index', help: 'Last index of this node’s log', kind: 'gauge' },
  {
    name: 'chorus_raft_elections_started_total',
    help: 'Elections this node started (it became a candidate)',
    kind: 'counter',
  },
  { name: 'chorus_raft_elections_won_total', help: 'Elections this node won', kind: 'counter' },
  {
    name: 'chorus_raft_commit_latency_seconds',
    help: 'On the leader: time from a proposal to the Ready that commits it',
    kind: 'histogram',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  },
  {
    name: 'chorus_raft_append_entries',
    help: 'Entries per append message sent (heartbeats and empty probes excluded)',
    kind: 'histogram',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
  },
  {
    name: 'chorus_raft_log_writes_total',
    help: 'Writes of a Ready to the Raft log, by whether they waited for an fsync (a hard state whose commit index alone moved does not)',
    kind: 'counter',
    labels: ['synced'],
  },
  {
    name: 'chorus_raft_messages_sent_total',
    help: 'Raft messages this node sent its peers, by type (app_empty: an append with no entries, which carries a commit index or probes)',
    kind: 'counter',
    labels: ['type'],
  },
  {
    name: 'chorus_raft_inflight_appends',
    help: 'On the leader: appends sent and not yet acknowledged, over every follower',
    kind: 'gauge',
  },
  {
    name: 'chorus_raft_snapshot_bytes',
    help: 'Size of the snapshots this node wrote (compaction) or installed (from the leader)',
    kind: 'histogram',
    labels: ['kind'],
    buckets: [1e3, 1e4, 1e5, 1e6, 1e7, 1e8],
  },
  {
    name: 'chorus_raft_snapshot_duration_seconds',
    help: 'Time to write a snapshot and compact the log, or to persist and restore one received',
    kind: 'histogram',
    labels: ['kind'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  },
  {
    name: 'chorus_raft_members',
    help: 'Members of the group as this node applied them, by kind',
    kind: 'gauge',
    labels: ['kind'],
  },
];

export class RaftMetrics {
  private readonly t: StoreTelemetry;
  private role: string | null = null;
  /** Leader only: when each index it is waiting on was proposed (ms). */
  private readonly proposedAt = new Map<number, number>();

  constructor(telemetry: StoreTelemetry) {
    this.t = telemetry;
  }

  /** A proposal accepted at `index` on this node as leader. */
  proposed(index: number, now: number): void {
    this.proposedAt.set(index, now);
  }

  /** A Ready taken from the core (before it is carried out). */
  ready(rd: Ready, now: number): void {
    for (const m of rd.messages) this.sent(m);
    for (const e of rd.committedEntries) {
      const at = this.proposedAt.get(e.index);
      if (at === undefined) continue;
      this.proposedAt.delete(e.index);
      this.t.observe('chorus_raft_commit_latency_seconds', (now - at) / 1000);
    }
  }

  /** A Ready's write to the log (entries, hard state or snapshot), fsynced or not. */
  wrote(synced: boolean): void {
    this.t.count('chorus_raft_log_writes_total', { synced: synced ? 'true' : 'false' });
  }

  private sent(m: Message): void {
    const empty = m.type === 'app' && m.entries.length === 0;
    this.t.count('chorus_raft_messages_sent_total', { type: empty ? 'app_empty' : m.type });
    if (m.type === 'app' && !empty) this.t.observe('chorus_raft_append_entries', m.entries.length);
  }

  /** After advance: the node's state as it now is. */
  state(core: RaftNode, applied: number): void {
    const st = core.status();
    const role: Role | 'learner' = st.conf.learners.includes(core.id) ? 'learner' : st.softState.role;
    if (role !== this.role) {
      // A single voter goes from follower to leader in one step: its election started too.
      if (role === 'candidate' || (role === 'leader' && this.role !== 'candidate'))
        this.t.count('chorus_raft_elections_started_total');
      if (role === 'leader') this.t.count('chorus_raft_elections_won_total');
      // A leader that stepped down will not see its proposals commit under its watch.
      if (this.role === 'leader') this.proposedAt.clear();
      for (const r of ROLES) this.t.set('chorus_raft_role', r === role ? 1 : 0, { role: r });
      this.t.set('chorus_raft_is_leader', role === 'leader' ? 1 : 0);
      this.role = role;
    }
    this.t.set('chorus_raft_term', st.hardState.term);
    this.t.set('chorus_raft_commit_index', st.hardState.commit);
    this.t.set('chorus_raft_applied_index', applied);
    this.t.set('chorus_raft_last_index', st.lastIndex);
    this.t.set('chorus_raft_members', st.conf.voters.length, { kind: 'voter' });
    this.t.set('chorus_raft_members', st.conf.learners.length, { kind: 'learner' });
    let inflight = 0;
    if (role === 'leader')
      for (const [id, pr] of core.tracker.progress) if (id !== core.id) inflight += pr.inflights.count();
    this.t.set('chorus_raft_inflight_appends', inflight);
  }

  snapshot(kind: 'written' | 'installed', bytes: number, seconds: number): void {
    this.t.observe('chorus_raft_snapshot_bytes', bytes, { kind });
    this.t.observe('chorus_raft_snapshot_duration_seconds', seconds, { kind });
  }
}
