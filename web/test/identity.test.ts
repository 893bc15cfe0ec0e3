// What the page keeps per device (web/src/identity.ts), here through its in-memory stand-in for
// storage (Node has no localStorage; a browser in a private mode may refuse it too): the audio
// leads the player learnt come back rounded, and anything unreadable reads as none.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAudioLeads, saveAudioLeads } from '../src/identity.ts';

void test('the audio leads a device learnt are kept for its next visit', () => {
  saveAudioLeads({ seek: 41.6, start: 118.2 });
  assert.deepEqual(loadAudioLeads(), { seek: 42, start: 118 });
  saveAudioLeads({ seek: 0, start: 75 });
  assert.deepEqual(loadAudioLeads(), { seek: 0, start: 75 });
});

void test('leads that are not two numbers read as none', () => {
  saveAudioLeads({ seek: Number.NaN, start: 10 });
  assert.equal(loadAudioLeads(), null);
});
