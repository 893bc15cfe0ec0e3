// Error reasons, area: stores in general (closed, options, groups, unloaded rooms), their disk
// (log, data-dir lock) and the redis store. Part of the one registry (../reasons.ts builds it);
// add a reason of this area here, and to the README's table.

import type { ErrorDetails } from '../errors.ts';
import { reason } from './spec.ts';

// In a pure call (see spec.ts): a bundle that gives no refusals (the web page) drops the table.
export const STORE_REASONS = /* @__PURE__ */ (() =>
  ({
    // ---- Stores ---------------------------------------------------------------------------------
    STORE_CLOSED: reason(
      'UNAVAILABLE',
      (a: { store: string; state: 'not started' | 'closed'; details: ErrorDetails }) =>
        `the ${a.store} is ${a.state}`,
      ({ details }) => ({ ...details }),
    ),
    STORE_CLOSED_BEFORE_APPLY: reason(
      'UNAVAILABLE',
      () =>
        'the store closed before this node saw the command applied; retry with the same commandId on another node',
    ),
    STORE_OPTION_INVALID: reason(
      'INVALID_ARGUMENT',
      (a: { store: string; problem: string; option: string }) => `${a.store}: ${a.problem}`,
      ({ option }) => ({ option }),
    ),
    STORE_NO_GROUP: reason(
      'FAILED_PRECONDITION',
      (a: { store: string }) => `the ${a.store} store has no group of nodes`,
      ({ store }) => ({ store }),
    ),
    ROOM_UNLOADED: reason(
      'UNAVAILABLE',
      (a: { roomId: string }) => `room ${a.roomId} was unloaded from this node`,
    ),
    LOG_BROKEN: reason(
      'INTERNAL',
      (a: { problem: string; roomId: string }) => a.problem,
      ({ roomId }) => ({ roomId }),
    ),
    LOG_WRITE_FAILED: reason(
      'UNAVAILABLE',
      (a: { dataDir: string; problem: string }) =>
        `the memory store at ${a.dataDir} cannot write its log (${a.problem}); ` +
        'free space (or make the disk writable) and restart the node',
      ({ dataDir }) => ({ dataDir }),
    ),
    DATA_DIR_LOCK_CONTENDED: reason(
      'FAILED_PRECONDITION',
      (a: { file: string; dataDir: string }) => `could not take the lock ${a.file}: it keeps changing hands`,
      ({ dataDir }) => ({ dataDir }),
    ),
    DATA_DIR_IN_USE: reason(
      'FAILED_PRECONDITION',
      (a: { dataDir: string; file: string; where: string; extra: string; pid: number; host: string }) =>
        `data dir ${a.dataDir} is in use by ${a.where}${a.extra}; stop it or choose another data dir ` +
        `(if that process is not a Chorus node, delete ${a.file})`,
      ({ dataDir, pid, host }) => ({ dataDir, pid, host }),
    ),
    REDIS_UNREACHABLE: reason(
      'UNAVAILABLE',
      (a: { where: string; why: string; what: string }) =>
        `Redis at ${a.where} is unreachable${a.why}: ${a.what}; retry later`,
      () => ({ retryable: true }),
    ),
    REDIS_CONNECT_FAILED: reason(
      'UNAVAILABLE',
      (a: { where: string; problem: string }) => `cannot reach Redis at ${a.where}: ${a.problem}`,
    ),
    REDIS_WRITE_INTERRUPTED: reason(
      'DEADLINE_EXCEEDED',
      (a: { problem: string; commandId: string }) =>
        `the connection to Redis failed while the command was being written (${a.problem}); it may still take effect: retry with the same commandId`,
      ({ commandId }) => ({ commandId }),
    ),
    REDIS_APPLY_TIMEOUT: reason(
      'DEADLINE_EXCEEDED',
      (a: { timeoutMs: number; commandId: string }) =>
        `Redis ordered the command but this node did not apply it within ${a.timeoutMs} ms; it will take effect: retry with the same commandId to see its result`,
      ({ commandId }) => ({ commandId }),
    ),
    REDIS_TOO_OLD: reason(
      'FAILED_PRECONDITION',
      (a: { where: string; version: string | null }) =>
        `the redis store needs Redis 7.0 or newer; ${a.where} runs ${a.version ?? 'an unknown version'}`,
    ),
  }) as const)();
