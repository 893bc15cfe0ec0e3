// The public room list's rules (src/domain/listing.ts), which every store applies: public rooms
// only, newest first with the id breaking ties, and how a room reads in the list.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareListings, isListed, listingOf } from '../../../src/domain/index.ts';
import { Room } from './helpers.ts';

void test('a public room is listed with its counts and "artist - title" of what plays', () => {
  const r = Room.create({}, ['m1']);
  r.add('m1', 'a', 60_000);
  r.add('m1', 'b', 30_000);
  assert.ok(isListed(r.s));
  const listing = listingOf(r.s);
  assert.equal(listing.id, r.s.id);
  assert.equal(listing.memberCount, 2);
  assert.equal(listing.queueLength, 1);
  const np = r.s.nowPlaying!.entry.track;
  assert.equal(listing.nowPlaying, `${np.artist} - ${np.title}`);
  assert.equal(listing.version, r.s.version);
});

void test('a private room is not listed', () => {
  assert.ok(!isListed(Room.create({ public: false }).s));
});

void test('the list is newest first, and the id breaks ties the same way everywhere', () => {
  const rooms = [
    { id: 'b', createdAt: 5 },
    { id: 'c', createdAt: 9 },
    { id: 'a', createdAt: 5 },
    { id: 'd', createdAt: 1 },
  ];
  assert.deepEqual(
    rooms.sort(compareListings).map((r) => r.id),
    ['c', 'a', 'b', 'd'],
  );
});
