// Request checks the REST API gets from its JSON Schemas (schemas.ts), for messages: the same
// bounds, each refusal an INVALID_ARGUMENT naming the field. proto3 cannot tell 0 from unset for
// plain numbers, so where 0 is not a valid value it means "the default".

import { ChorusError, checkId, checkRoomId, LIMITS, chorusError } from '../../domain/index.ts';
import type { PageLimit } from '../page-limits.ts';

function refuse(field: string, message: string): never {
  throw chorusError('FIELD_INVALID', { field, problem: message });
}

export function roomIdOf(roomId: string): string {
  const bad = checkRoomId(roomId);
  if (bad) throw ChorusError.from(bad);
  return roomId;
}

export function idOf(field: string, id: string): string {
  const bad = checkId(field, id);
  if (bad) throw ChorusError.from(bad);
  return id;
}

/** A whole number within bounds; `fallback` when 0 (unset) and 0 is not allowed. */
export function intIn(field: string, value: number, min: number, max: number, fallback?: number): number {
  if (value === 0 && fallback !== undefined && min > 0) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    refuse(field, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** A page's `limit` by the table both APIs share; 0 (proto3's unset) is the default where 0 is invalid. */
export function pageLimit(value: number, limit: PageLimit): number {
  return intIn('limit', value, limit.min, limit.max, limit.fallback);
}

/** A version or cursor: a non-negative whole number. */
export function versionOf(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) refuse(field, 'must be a non-negative whole number');
  return value;
}

export function textOf(field: string, value: string, max: number, min = 1): string {
  if (value.length < min || value.length > max) refuse(field, `must be ${min}-${max} characters`);
  return value;
}

/** A catalog track id, as the REST API bounds it. */
export function trackIdOf(field: string, value: string): string {
  return textOf(field, value, LIMITS.textMaxLength);
}
