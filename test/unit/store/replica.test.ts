// RoomReplica and PendingCommands, the pieces every store applies and answers through: a throwing
// apply is guarded alike for every store, and pending commands are keyed by room and command id.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Envelope } from '../../../src/domain/index.ts';
import { PendingCommands, RoomReplica } from '../../../src/store/replica.ts';
import type { CommitOutcome } from '../../../src/store/types.ts';
import { cmd, roomId } from '../../helpers/store-envelopes.ts';

/** An envelope whose every property read throws: apply cannot help but throw on it. */
function throwingEnvelope(): Envelope {
  return new Proxy({} as Envelope, {
    get: () => {
      throw new Error('boom');
    },
  });
}

void describe('RoomReplica', () => {
  void test('a throwing apply answers INTERNAL, changes nothing, is logged, and the room goes on', () => {
    const room = roomId();
    const warnings: { fields: object; message: string }[] = [];
    const replica = new RoomReplica(room, null, {
      info: () => undefined,
      warn: (fields, message = '') => void warnings.push({ fields, message }),
    });
    const created = replica.applyCommitted(cmd.createRoom(room, 'host'));
    assert.ok(created.result.ok);
    const events: number[] = [];
    replica.subscribe(1, (item) => {
      if (item.kind === 'event') events.push(item.event.version);
    });

    const out = replica.applyCommitted(throwingEnvelope());
    assert.equal(out.result.ok, false);
    assert.equal(!out.result.ok && out.result.error.code, 'INTERNAL');
    assert.equal(out.state, created.state, 'the state is the one before');
    assert.equal(replica.version, 1);
    assert.ok(warnings.some((w) => w.message.includes('applying a command failed')));

    const joined = replica.applyCommitted(cmd.join(room, 'alice'));
    assert.ok(joined.result.ok);
    assert.equal(replica.version, 2);
    assert.deepEqual(events, [2], 'subscribers saw only the real change');
  });
});

void describe('PendingCommands', () => {
  void test('the same command id in two rooms is two commands', async () => {
    const pending = new PendingCommands();
    const a = pending.expect('room-a', 'c1');
    const b = pending.expect('room-b', 'c1');
    assert.ok(pending.isWaiting('room-a', 'c1'));
    assert.equal(pending.size, 2);
    const outcome: CommitOutcome = {
      result: { ok: false, error: { code: 'NOT_FOUND', message: 'x' } },
      state: null,
    };
    pending.settle('room-a', 'c1', outcome);
    assert.equal(await a, outcome);
    assert.equal(pending.isWaiting('room-a', 'c1'), false);
    assert.ok(pending.isWaiting('room-b', 'c1'), 'room b still waits');
    pending.forget('room-b', 'c1');
    assert.equal(pending.size, 0);
    let settled = false;
    void b.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'a forgotten command is never answered');
  });
});
