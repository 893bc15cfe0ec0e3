// The tests' one poll with a deadline: `until(what, check, timeoutMs, intervalMs)` calls `check`
// until it gives a value (not undefined or false) and returns it; a check that throws is retried,
// and the deadline's error names `what` and the last thrown error. Tests poll instead of sleeping.

/** Polls `check` until it returns a value other than undefined/false, or fails at the deadline. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
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
