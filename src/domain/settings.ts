// Room settings: defaults, bounds, and the validation of a patch. The bounds live here (not in a
// transport schema) so that every way into a room enforces the same ones.

import type { ErrorInfo } from './errors.ts';
import { refusal } from './reasons.ts';
import type { RoomSettings } from './types.ts';

export const DEFAULT_SETTINGS: Required<RoomSettings> = {
  public: true,
  maxQueueLength: 500,
  maxEntriesPerMember: 10,
  maxTrackDurationMs: 20 * 60_000,
  voteOffThreshold: 5,
  skipVotes: 3,
  replayProtectionMinutes: 0,
  historyRetention: 1000,
  autoplay: true,
  skipShare: 0.5,
  joinPolicy: 'open',
  maxMembers: 0,
  // Off unless the host sets it: load tests and big parties join hundreds at once; the per-address
  // rate (node) still holds.
  joinsPerMinute: 0,
};

/**
 * The settings added with presence and join control, as a room written before them behaves: no
 * share (skipVotes alone), open, no cap, no room-wide join rate. Their snapshots load unchanged and
 * keep their old behaviour; readers complete them through `fullSettings`.
 */
export const LEGACY_SETTINGS: Required<Pick<RoomSettings, LaterKey>> = {
  skipShare: 0,
  joinPolicy: 'open',
  maxMembers: 0,
  joinsPerMinute: 0,
};

type LaterKey = 'skipShare' | 'joinPolicy' | 'maxMembers' | 'joinsPerMinute';

/** Every setting, those a room written before them lacks filled in as it behaves. */
export function fullSettings(settings: RoomSettings): Required<RoomSettings> {
  return { ...LEGACY_SETTINGS, ...settings };
}

export const JOIN_POLICIES = ['open', 'passcode', 'approval'] as const;
export type JoinPolicy = (typeof JOIN_POLICIES)[number];

type NumericKey = Exclude<
  {
    [K in keyof RoomSettings]-?: NonNullable<RoomSettings[K]> extends number ? K : never;
  }[keyof RoomSettings],
  'skipShare'
>;

/** Inclusive integer bounds of each numeric setting. */
export const SETTING_BOUNDS: Readonly<Record<NumericKey, readonly [number, number]>> = {
  maxQueueLength: [1, 1_000_000],
  maxEntriesPerMember: [0, 1_000_000],
  maxTrackDurationMs: [1_000, 24 * 3_600_000],
  voteOffThreshold: [0, 1_000_000],
  skipVotes: [0, 1_000_000],
  replayProtectionMinutes: [0, 7 * 24 * 60],
  historyRetention: [1, 100_000],
  maxMembers: [0, 1_000_000],
  joinsPerMinute: [0, 100_000],
};

/** Settings that are a share of the present members, from 0 to 1 (any fraction). */
const SHARE_KEYS = ['skipShare'] as const;

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
    } else if ((SHARE_KEYS as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
        return refusal('SETTING_NOT_SHARE', { setting: key });
      }
    } else if (key === 'joinPolicy') {
      if (!(JOIN_POLICIES as readonly unknown[]).includes(value)) {
        return refusal('SETTING_NOT_ONE_OF', { setting: key, allowed: JOIN_POLICIES });
      }
    } else if ((BOOLEAN_KEYS as readonly string[]).includes(key)) {
      if (typeof value !== 'boolean') {
        return refusal('SETTING_NOT_BOOLEAN', { setting: key });
      }
    } else {
      return refusal('SETTING_UNKNOWN', {
        setting: key,
        known: [...Object.keys(SETTING_BOUNDS), ...SHARE_KEYS, 'joinPolicy', ...BOOLEAN_KEYS],
      });
    }
    next[key] = value;
  }
  return next as unknown as RoomSettings;
}

export function isErrorInfo(value: RoomSettings | ErrorInfo): value is ErrorInfo {
  return 'code' in value;
}
