// The room table's ordered index of public rooms (src/store/listing-index.ts) against the rule it
// replaces, a full sort of every held public room per call: random sequences of rooms created
// (public or private, with createdAt ties), made public or private, dropped (evicted) and put
// back (reloaded from their state), then any page of the list equals the sorted page.
// On failure fast-check prints the seed and path; rerun with FC_SEED=… FC_PATH=… to reproduce.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareListings, isListed, listingOf, type RoomState } from '../../../src/domain/index.ts';
import { Lifecycle } from '../../../src/store/lifecycle.ts';
import { SILENT_LOGGER } from '../../../src/store/logger.ts';
import { LocalRooms } from '../../../src/store/room-table.ts';
import { envelope } from '../../helpers/store-envelopes.ts';
import { fcParams } from '../domain/arbitraries.ts';

type Op =
  | { kind: 'create'; room: number; at: number; public: boolean }
  | { kind: 'setPublic'; room: number; public: boolean }
  | { kind: 'evict'; room: number }
  | { kind: 'reload'; room: number }
  | { kind: 'list'; limit: number };

const room = fc.nat(40);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('create' as const),
    room,
    at: fc.integer({ min: 1, max: 8 }), // few distinct times: ties are common, the id decides them
    public: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('setPublic' as const), room, public: fc.boolean() }),
  fc.record({ kind: fc.constant('evict' as const), room }),
  fc.record({ kind: fc.constant('reload' as const), room }),
  fc.record({ kind: fc.constant('list' as const), limit: fc.integer({ min: -1, max: 50 }) }),
);

function sortedPage(rooms: LocalRooms, limit: number) {
  const all: RoomState[] = [];
  for (const held of rooms.values())
    if (held.replica.state && isListed(held.replica.state)) all.push(held.replica.state);
  return all.map(listingOf).sort(compareListings).slice(0, Math.max(0, limit));
}

void test('the ordered public-room index gives exactly the page a full sort gives', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 300 }), (ops) => {
      const rooms = new LocalRooms({
        life: new Lifecycle('test'),
        readTimeoutMs: 1000,
        logger: SILENT_LOGGER,
      });
      const evicted = new Map<string, RoomState>();
      for (const op of ops) {
        if (op.kind === 'list') {
          assert.deepEqual(rooms.listings(op.limit), sortedPage(rooms, op.limit));
          continue;
        }
        const id = `room-${op.room}`;
        if (op.kind === 'create') {
          rooms.apply(
            envelope(
              id,
              'host',
              { type: 'createRoom', name: `Room ${id}`, hostName: 'Host', settings: { public: op.public } },
              1_700_000_000_000 + op.at,
            ),
          );
        } else if (op.kind === 'setPublic') {
          rooms.apply(envelope(id, 'host', { type: 'updateSettings', patch: { public: op.public } }));
        } else if (op.kind === 'evict') {
          const held = rooms.get(id);
          if (held?.replica.state) evicted.set(id, held.replica.state);
          if (held) rooms.drop(held);
        } else {
          const state = evicted.get(id);
          if (state && !rooms.get(id)) rooms.restore(state);
          evicted.delete(id);
        }
      }
      assert.deepEqual(rooms.listings(10_000), sortedPage(rooms, 10_000));
    }),
    fcParams(200),
  );
});
