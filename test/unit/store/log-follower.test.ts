// LogFollower, the one way a store applies a committed log it reads from elsewhere: in order,
// skipping what it applied already, stopping at a gap, installing a snapshot, and settling this
// node's own commands (applied, or found in the snapshot's recent commands).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { apply, type Envelope, type RoomState } from '../../../src/domain/index.ts';
import { LogFollower } from '../../../src/store/log-follower.ts';
import { SILENT_LOGGER } from '../../../src/store/logger.ts';
import { PendingCommands, RoomReplica } from '../../../src/store/replica.ts';
import { cmd, roomId } from '../../helpers/store-envelopes.ts';

interface Entry {
  readonly seq: number;
  readonly env: Envelope | null;
}

function setup(): { follower: LogFollower<Entry>; pending: PendingCommands; warnings: string[] } {
  const pending = new PendingCommands();
  const warnings: string[] = [];
  const follower = new LogFollower<Entry>({
    pending,
    logger: { ...SILENT_LOGGER, warn: (_fields, message = '') => void warnings.push(message) },
    decode: (entry) => entry.env,
    label: 'test store',
  });
  return { follower, pending, warnings };
}

/** The state apply gives for these envelopes in order. */
function stateAfter(envs: readonly Envelope[]): RoomState | null {
  let state: RoomState | null = null;
  for (const env of envs) state = apply(state, env).state;
  return state;
}

void describe('LogFollower', () => {
  void test('applies in order, skips what it applied, stops at a gap, and settles own commands', async () => {
    const { follower, pending } = setup();
    const room = roomId();
    const envs = [
      cmd.createRoom(room, 'host'),
      cmd.join(room, 'a'),
      cmd.join(room, 'b'),
      cmd.join(room, 'c'),
    ];
    const entries = envs.map((env, i) => ({ seq: i + 1, env }));
    const log = LogFollower.start(room, new RoomReplica(room), 0);
    const own = pending.expect(room, envs[1]!.commandId);

    assert.equal(follower.applyInOrder(log, entries.slice(0, 2)), true);
    assert.equal(log.position, 2);
    assert.equal(log.lastCommandId, envs[1]!.commandId);
    assert.equal(pending.isWaiting(room, envs[1]!.commandId), false, 'the own command is settled');
    assert.equal((await own).state?.version, 2, 'the own command is answered with what was applied');

    assert.equal(follower.offer(log, entries[0]!), 'behind');
    assert.equal(follower.offer(log, entries[3]!), 'gap');
    assert.equal(follower.applyInOrder(log, [entries[1]!, entries[3]!]), false, 'stops at the gap');
    assert.equal(log.position, 2, 'nothing past the gap was applied');
    assert.equal(follower.offer(log, entries[2]!), 'applied');
    assert.deepEqual(log.replica.state, stateAfter(envs.slice(0, 3)));
  });

  void test('an entry that is no command moves the position, changes nothing, and is logged', () => {
    const { follower, warnings } = setup();
    const room = roomId();
    const log = LogFollower.start(room, new RoomReplica(room), 0);
    follower.applyInOrder(log, [
      { seq: 1, env: cmd.createRoom(room, 'host') },
      { seq: 2, env: null },
    ]);
    assert.equal(log.position, 2);
    assert.equal(log.lastCommandId, null);
    assert.equal(log.replica.version, 1);
    assert.ok(warnings.some((w) => w.includes(`room ${room} log entry 2 is not a command`)));
  });

  void test('install resets from a snapshot, settles own commands from its recent ones, then catches up', async () => {
    const { follower, pending } = setup();
    const room = roomId();
    const envs = [
      cmd.createRoom(room, 'host'),
      cmd.join(room, 'a'),
      cmd.join(room, 'b'),
      cmd.join(room, 'c'),
    ];
    const log = LogFollower.start(room, new RoomReplica(room), 0);
    follower.applyInOrder(log, [{ seq: 1, env: envs[0]! }]);
    const resets: number[] = [];
    log.replica.subscribe(0, (item) => {
      if (item.kind === 'reset') resets.push(item.state.version);
    });
    // This node's join was ordered at 2 but cut away before it read it: the snapshot at 3 has it.
    const own = pending.expect(room, envs[1]!.commandId);
    log.snapshotAt = 1;
    follower.install(log, stateAfter(envs.slice(0, 3)), 3, false);
    assert.deepEqual(resets, [3], 'subscribers get a reset');
    assert.equal(log.position, 3);
    assert.equal(log.snapshotAt, 3);
    assert.equal(pending.isWaiting(room, envs[1]!.commandId), false, 'the own command is settled');
    const answer = await own;
    assert.ok(answer.result.ok && answer.result.value.type === 'join', JSON.stringify(answer.result));

    await follower.catchUp(log, [
      { seq: 3, env: envs[2]! },
      { seq: 4, env: envs[3]! },
    ]);
    assert.equal(log.position, 4);
    assert.deepEqual(log.replica.state, stateAfter(envs));

    // A rewound source may have lost the snapshot this node knew of: snapshotAt follows it back.
    follower.install(log, stateAfter(envs.slice(0, 2)), 2, true);
    assert.equal(log.snapshotAt, 2);
    assert.equal(log.replica.version, 2);
  });
});
