// Checking a store's options against one table: each numeric option has a default and inclusive
// bounds, and every store reports a bad one the same way (INVALID_ARGUMENT naming the option), at
// open time, before anything is touched (docs/architecture.md section 7: config is checked once, at start).

import type { ChorusError } from '../domain/index.ts';
import { chorusError } from '../domain/index.ts';
import { SILENT_LOGGER, type StoreLogger } from './logger.ts';

/** Default and inclusive bounds of each numeric option of a store. */
export type OptionTable<K extends string> = Readonly<
  Record<K, readonly [fallback: number, min: number, max: number]>
>;

/** The error every store gives for a bad option: `<store>: <message>`, with the option's name. */
export function invalidOption(store: string, message: string, option: string): ChorusError {
  return chorusError('STORE_OPTION_INVALID', { store, problem: message, option });
}

/** Each option of the table as given (or its default), once checked to be a whole number in bounds. */
export function resolveNumbers<K extends string>(
  store: string,
  table: OptionTable<K>,
  given: Partial<Readonly<Record<K, unknown>>>,
): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const [key, [fallback, min, max]] of Object.entries(table) as Array<[K, readonly number[]]>) {
    const value = given[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min! || value > max!) {
      throw invalidOption(store, `${key} must be a whole number from ${min} to ${max}`, key);
    }
    out[key] = value;
  }
  return out;
}

/** The logger given, checked to have both methods, or the store's fallback (silent by default). */
export function resolveLogger(
  store: string,
  logger: StoreLogger | undefined,
  fallback: StoreLogger = SILENT_LOGGER,
): StoreLogger {
  const chosen = logger ?? fallback;
  if (typeof chosen.info !== 'function' || typeof chosen.warn !== 'function') {
    throw invalidOption(store, 'logger must have info and warn methods', 'logger');
  }
  return chosen;
}
