// The one logger every store reports to: what it does on its own (recovery, reconnects, reloads,
// snapshots) and what it skipped. Pino-shaped (fields first, then the sentence), so a pino logger
// fits as it is; the sentence alone names what happened, the fields are for machines.

export interface StoreLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
}

/** Says nothing: the default of a store opened without a logger (tests, embedding). */
export const SILENT_LOGGER: StoreLogger = { info: () => undefined, warn: () => undefined };
