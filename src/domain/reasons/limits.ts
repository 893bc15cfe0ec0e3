// Error reasons, area: a node's limits (rates, streams, connections), deadlines, a stopping node,
// and internal errors. Part of the one registry (../reasons.ts builds it); add a reason of this
// area here, and to the README's table.

import { reason } from './spec.ts';

/** "100 a second", or for slow rates "10 a minute" (never "0.1666… a second"). */
function formatRate(perSecond: number): string {
  if (perSecond >= 1) return `${Math.round(perSecond * 100) / 100} a second`;
  return `${Math.round(perSecond * 60 * 100) / 100} a minute`;
}

// In a pure call (see spec.ts): a bundle that gives no refusals (the web page) drops the table.
export const LIMIT_REASONS = /* @__PURE__ */ (() =>
  ({
    // ---- Limits ---------------------------------------------------------------------------------
    RATE_LIMITED: reason(
      'RESOURCE_EXHAUSTED',
      (a: { what: string; rate: number; burst: number; retryAfterMs: number }) =>
        `too many ${a.what}: at most ${formatRate(a.rate)} (${a.burst} at once); try again in ${a.retryAfterMs} ms`,
      ({ retryAfterMs }) => ({ retryAfterMs }),
    ),
    STREAMS_FULL: reason(
      'RESOURCE_EXHAUSTED',
      (a: { maxStreams: number }) =>
        `this node serves ${a.maxStreams} live streams already; try again later or another node`,
      ({ maxStreams }) => ({ maxStreams }),
    ),
    CONNECTIONS_PER_ADDRESS: reason(
      'RESOURCE_EXHAUSTED',
      () => 'too many open connections from your address; close some and try again',
    ),
    CROSS_SITE_WRITE: reason(
      'PERMISSION_DENIED',
      () => 'cross-site request refused: the legacy API takes writes from scripts or this node’s own pages',
    ),

    // ---- Deadlines and streams ------------------------------------------------------------------
    VERSION_TIMEOUT: reason(
      'DEADLINE_EXCEEDED',
      (a: { roomId: string; version: number; minVersion: number; timeoutMs: number }) =>
        `room ${a.roomId} is at version ${a.version} here; version ${a.minVersion} did not arrive within ${a.timeoutMs} ms`,
      ({ version, minVersion }) => ({ version, minVersion }),
    ),
    DEADLINE_BEFORE_START: reason('DEADLINE_EXCEEDED', () => 'the deadline passed before the call started'),
    DEADLINE_BEFORE_ANSWER: reason(
      'DEADLINE_EXCEEDED',
      () =>
        'the deadline passed before the answer; a write may still take effect (retry with the same idempotency-key)',
    ),
    NODE_STOPPING: reason('UNAVAILABLE', () => 'this node is stopping; watch again with after_version'),
    WATCHER_BEHIND: reason(
      'UNAVAILABLE',
      (a: { version: number }) => `this watcher fell behind; watch again with after_version=${a.version}`,
    ),

    // ---- Anything else --------------------------------------------------------------------------
    INTERNAL_LOGGED: reason('INTERNAL', () => 'internal error; it has been logged'),
    INTERNAL_UNLOGGED: reason('INTERNAL', () => 'internal error'),
    ANSWER_MALFORMED: reason(
      'INTERNAL',
      (a: { problem: string }) => `the server answered a malformed message: ${a.problem}`,
    ),
  }) as const)();
