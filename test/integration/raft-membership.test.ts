// Raft membership on in-process stores over real gRPC: a node that joins after the leader has
// compacted its log gets a snapshot (which carries every member's address and the rooms), the
// snapshot metrics move, and a member restarted from its snapshot still knows the address of a
// member it learned only from the log.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../src/cluster/ports.ts';
import { SILENT_LOGGER } from '../../src/store/logger.ts';
import { openRaftStore } from '../../src/store/raft/store.ts';
import type { StoreTelemetry } from '../../src/store/telemetry.ts';
import { GROUP_SECRET, serve, startRaftGroup } from '../helpers/raft-group.ts';
import { cmd, roomId } from '../helpers/store-envelopes.ts';
import { until } from '../helpers/until.ts';

void test('a node joining after compaction is sent a snapshot with the rooms and every address', async () => {
  const group = await startRaftGroup(3, { snapshotEvery: 5 });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'chorus-raft-n4-'));
  const observed: string[] = [];
  const telemetry: StoreTelemetry = {
    count: () => {},
    set: () => {},
    observe: (name, _value, labels) => void observed.push(`${name}${labels?.['kind'] ?? ''}`),
  };
  let server: Awaited<ReturnType<typeof serve>> | null = null;
  let joiner: Awaited<ReturnType<typeof openRaftStore>> | null = null;
  try {
    const leader = await until('a leader', () => group.leader());
    const room = roomId('snap');
    await leader.store.submit(cmd.createRoom(room, 'host'));
    for (let i = 0; i < 20; i++) await leader.store.submit(cmd.join(room, `m${i}`));

    const address = `127.0.0.1:${await freePort()}`;
    joiner = await openRaftStore({
      dataDir,
      nodeId: 'n4',
      peers: [...group.peers, { id: 'n4', address }],
      secret: GROUP_SECRET,
      logger: SILENT_LOGGER,
      tickMs: 20,
      fsync: false,
      join: true,
      telemetry,
    });
    server = await serve(joiner, address);
    const added = await group.members[0]!.store.admin.changeMembership({
      type: 'addLearner',
      node: 'n4',
      address,
    });
    assert.deepEqual(
      (added.learners ?? []).map((m) => `${m.id ?? ''}=${m.address ?? ''}`),
      [`n4=${address}`],
    );
    const want = (await leader.store.read(room))!.version;
    const state = await joiner.read(room, want, 10_000);
    assert.equal(state?.version, want, 'the learner has the room');
    assert.ok(
      observed.includes('chorus_raft_snapshot_bytesinstalled'),
      `snapshot installed: ${observed.join()}`,
    );

    // n2 learns n4's address from the log; after a snapshot and a restart it still knows it.
    const n2 = group.members[1]!;
    for (let i = 0; i < 10; i++) await leader.store.submit(cmd.join(room, `later${i}`));
    await group.stop(n2);
    await group.restart(n2);
    const status = await until('n2 to find the leader again', () => {
      const s = n2.store.groupStatus();
      return s.leaderId !== null ? s : undefined;
    });
    assert.equal(status.members.find((m) => m.id === 'n4')?.address, address);
    assert.equal(status.members.find((m) => m.id === 'n4')?.role, 'learner');
  } finally {
    await joiner?.close();
    server?.forceShutdown();
    await group.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
