// The tests' one poll with a deadline: `until(what, check, { timeoutMs, intervalMs })` calls
// `check` until it gives a value (not undefined or false) and returns it; a check that throws is
// retried (a node not listening yet, an assertion not true yet), and the deadline's error names
// `what` and the last thrown error. A check that knows the wait is hopeless (the process it waits
// on has exited) throws `GiveUp`, which ends the wait at once. Tests poll instead of sleeping.

export interface UntilOptions {
  /** How long to keep trying; 10 s unless given (process-level waits give tens of seconds). */
  readonly timeoutMs?: number;
  /** The pause between two checks. */
  readonly intervalMs?: number;
}

/** Thrown by a check to end the wait at once: what it waits for can no longer happen. */
export class GiveUp extends Error {}

/** Polls `check` until it returns a value other than undefined/false, or fails at the deadline. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 10_000, intervalMs = 20 }: UntilOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
