// Room settings: defaults, bounds, and the validation of a patch. The bounds live here (not in a
// transport schema) so that every way into a room enforces the same ones.

import type { ErrorInfo } from './errors.ts';
import { refusal } from './reasons.ts';
import type { RoomSettings } from './types.ts';

export const DEFAULT_SETTINGS: RoomSettings = {
  public: true,
  maxQueueLength: 500,
  maxEntriesPerMember: 10,
  maxTrackDurationMs: 20 * 60_000,
  voteOffThreshold: 5,
  skipVotes: 3,
  replayProtectionMinutes: 0,
  historyRetention: 1000,
  autoplay: true,
};

type NumericKey = {
  [K in keyof RoomSettings]: RoomSettings[K] extends number ? K : never;
}[keyof RoomSettings];

/** Inclusive integer bounds of each numeric setting. */
export const SETTING_BOUNDS: Readonly<Record<NumericKey, readonly [number, number]>> = {
  maxQueueLength: [1, 1_000_000],
  maxEntriesPerMember: [0, 1_000_000],
  maxTrackDurationMs: [1_000, 24 * 3_600_000],
  voteOffThreshold: [0, 1_000_000],
  skipVotes: [0, 1_000_000],
  replayProtectionMinutes: [0, 7 * 24 * 60],
  historyRetention: [1, 100_000],
};

const BOOLEAN_KEYS = ['public', 'autoplay'] as const;

/** Returns the settings with the patch applied, or an INVALID_ARGUMENT naming the offending key. */
export function applySettingsPatch(base: RoomSettings, patch: unknown): RoomSettings | ErrorInfo {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return refusal('SETTINGS_NOT_OBJECT');
  }
  const next: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (Object.hasOwn(SETTING_BOUNDS, key)) {
      const [min, max] = SETTING_BOUNDS[key as NumericKey];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        return refusal('SETTING_OUT_OF_RANGE', { setting: key, min, max });
      }
    } else if ((BOOLEAN_KEYS as readonly string[]).includes(key)) {
      if (typeof value !== 'boolean') {
        return refusal('SETTING_NOT_BOOLEAN', { setting: key });
      }
    } else {
      return refusal('SETTING_UNKNOWN', {
        setting: key,
        known: [...Object.keys(SETTING_BOUNDS), ...BOOLEAN_KEYS],
      });
    }
    next[key] = value;
  }
  return next as unknown as RoomSettings;
}

export function isErrorInfo(value: RoomSettings | ErrorInfo): value is ErrorInfo {
  return 'code' in value;
}
