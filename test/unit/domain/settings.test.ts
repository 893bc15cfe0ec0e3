// Room settings: defaults, bounds, the patch check and the updateSettings command.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  applySettingsPatch,
  DEFAULT_SETTINGS,
  SETTING_BOUNDS,
  type ErrorInfo,
  type RoomSettings,
} from '../../../src/domain/index.ts';
import { HOST, Room } from './helpers.ts';

function refusal(result: RoomSettings | ErrorInfo): ErrorInfo {
  assert.ok('code' in result, `expected a refusal, got ${JSON.stringify(result)}`);
  return result;
}

void describe('applySettingsPatch', () => {
  void test('the defaults are within their own bounds', () => {
    for (const [key, [min, max]] of Object.entries(SETTING_BOUNDS)) {
      const value = DEFAULT_SETTINGS[key as keyof typeof SETTING_BOUNDS];
      assert.ok(min <= value && value <= max, `${key}=${value}`);
    }
    assert.deepEqual(applySettingsPatch(DEFAULT_SETTINGS, {}), DEFAULT_SETTINGS);
  });

  for (const [key, [min, max]] of Object.entries(SETTING_BOUNDS)) {
    void test(`${key}: accepts ${min} and ${max}, refuses ${min - 1}, ${max + 1}, fractions and text`, () => {
      assert.equal(
        (applySettingsPatch(DEFAULT_SETTINGS, { [key]: min }) as RoomSettings)[key as 'skipVotes'],
        min,
      );
      assert.equal(
        (applySettingsPatch(DEFAULT_SETTINGS, { [key]: max }) as RoomSettings)[key as 'skipVotes'],
        max,
      );
      for (const bad of [min - 1, max + 1, min + 0.5, String(min), null, Number.NaN]) {
        const err = refusal(applySettingsPatch(DEFAULT_SETTINGS, { [key]: bad }));
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.equal(err.message, `setting ${key} must be a whole number from ${min} to ${max}`);
        assert.deepEqual(err.details, { setting: key, min, max });
      }
    });
  }

  for (const key of ['public', 'autoplay'] as const) {
    void test(`${key}: accepts true and false, refuses anything else`, () => {
      assert.equal((applySettingsPatch(DEFAULT_SETTINGS, { [key]: false }) as RoomSettings)[key], false);
      for (const bad of [0, 'true', null]) {
        const err = refusal(applySettingsPatch(DEFAULT_SETTINGS, { [key]: bad }));
        assert.equal(err.message, `setting ${key} must be true or false`);
      }
    });
  }

  void test('refuses an unknown setting, listing the known ones', () => {
    const err = refusal(applySettingsPatch(DEFAULT_SETTINGS, { maxQueue: 3 }));
    assert.equal(err.message, 'unknown setting maxQueue');
    assert.deepEqual([...(err.details?.['known'] as string[])].sort(), Object.keys(DEFAULT_SETTINGS).sort());
    // Keys of Object.prototype are unknown settings too.
    refusal(applySettingsPatch(DEFAULT_SETTINGS, JSON.parse('{"__proto__": {"autoplay": false}}')));
    refusal(applySettingsPatch(DEFAULT_SETTINGS, { toString: 1 }));
  });

  void test('refuses a patch that is not an object', () => {
    for (const bad of [null, undefined, 5, 'x', [1]]) {
      assert.equal(refusal(applySettingsPatch(DEFAULT_SETTINGS, bad)).message, 'settings must be an object');
    }
  });

  void test('ignores undefined values and leaves the base untouched', () => {
    const base = { ...DEFAULT_SETTINGS };
    const next = applySettingsPatch(base, { skipVotes: undefined, maxQueueLength: 9 });
    assert.deepEqual(next, { ...DEFAULT_SETTINGS, maxQueueLength: 9 });
    assert.deepEqual(base, DEFAULT_SETTINGS);
  });
});

void describe('updateSettings', () => {
  void test('the host changes settings; the change is announced', () => {
    const room = Room.create({}, ['m1']);
    const value = room.change(HOST, { type: 'updateSettings', patch: { maxQueueLength: 3, public: false } });
    const settings = { ...DEFAULT_SETTINGS, maxQueueLength: 3, public: false };
    assert.deepEqual(value, { type: 'updateSettings', settings });
    assert.deepEqual(room.s.settings, settings);
    assert.deepEqual(room.event('settingsChanged').settings, settings);
  });

  void test('a patch that changes nothing keeps the version', () => {
    const room = Room.create();
    room.noop(HOST, { type: 'updateSettings', patch: { skipVotes: DEFAULT_SETTINGS.skipVotes } });
    room.noop(HOST, { type: 'updateSettings', patch: {} });
  });

  void test('members may not change settings', () => {
    const err = Room.create({}, ['m1']).refused(
      'm1',
      { type: 'updateSettings', patch: { autoplay: false } },
      'PERMISSION_DENIED',
    );
    assert.match(err.message, /only the host can change the settings/);
  });

  void test('one bad key refuses the whole patch', () => {
    const room = Room.create();
    const err = room.refused(
      HOST,
      { type: 'updateSettings', patch: { maxQueueLength: 3, skipVotes: -1 } },
      'INVALID_ARGUMENT',
    );
    assert.match(err.message, /skipVotes must be a whole number from 0 to 1000000/);
    assert.deepEqual(room.s.settings, DEFAULT_SETTINGS);
    room.refused(HOST, { type: 'updateSettings', patch: null }, 'INVALID_ARGUMENT');
  });

  void test('tightened limits apply to later commands, not to what is already queued', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 'a');
    room.add('m1', 'b');
    room.change(HOST, { type: 'updateSettings', patch: { maxQueueLength: 1 } });
    assert.deepEqual(room.queueIds(), ['e-a', 'e-b']);
    const err = room.refused(
      'm1',
      { type: 'addTrack', entryId: 'c', track: { ...room.s.queue.at(0)!.track, trackId: 'c' } },
      'FAILED_PRECONDITION',
    );
    assert.match(err.message, /the queue is full \(1 entries\)/);
  });
});
