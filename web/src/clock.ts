// The server's clock, as seen from this browser. Progress bars and ETAs come from the server's
// timeline (startedAt + durationMs), so a phone whose clock is a minute off must still show the
// right position: the page estimates offset = serverTime - localTime from what answers tell it.
//
// Samples, best first:
// - a room answer whose track is mid-play: the server computed positionMs = now - startedAt, so
//   startedAt + positionMs is the server's time when it answered (to the millisecond), somewhere
//   in the request's round trip: the error is at most half the round trip;
// - the HTTP Date header: whole seconds, so the error is up to a second plus half the round trip;
// - an SSE event's `at` (when its command was proposed): the server's clock had reached it before
//   the event arrived, so it is a lower bound on the offset, which corrects an estimate behind it.

export class ServerClock {
  private offset = 0;
  /** How far off the current estimate may be, ms (Infinity until the first sample). */
  private error = Number.POSITIVE_INFINITY;
  /** When the held estimate was measured (local time). */
  private sampledAt = 0;
  private readonly localNow: () => number;

  constructor(localNow: () => number = Date.now) {
    this.localNow = localNow;
  }

  /** How far off the estimate may be, ms (Infinity before the first sample). */
  get errorMs(): number {
    return this.error;
  }

  /** The server's time now, ms since the epoch (best estimate). */
  now(): number {
    return this.localNow() + this.offset;
  }

  /** The server said its time was `serverTime` at some moment between sentAt and receivedAt. */
  sample(serverTime: number, sentAt: number, receivedAt: number, resolutionMs = 0): void {
    const half = Math.max(0, receivedAt - sentAt) / 2;
    const error = half + resolutionMs / 2;
    // A newer sample wins when it is about as good as the held one once that one has aged (1 ms a
    // second: far more than clocks drift), so a drifting clock is followed, yet a precise sample
    // is not replaced by a sloppy one (the player needs the offset to a few ms).
    const aged = this.error + 5 + Math.max(0, receivedAt - this.sampledAt) / 1000;
    if (error <= aged) {
      this.offset = serverTime + resolutionMs / 2 - (sentAt + half);
      this.error = error;
      this.sampledAt = receivedAt;
    }
  }

  /** Samples a fetch response: its Date header. */
  sampleDateHeader(date: string | null, sentAt: number, receivedAt: number): void {
    const t = date ? Date.parse(date) : Number.NaN;
    if (Number.isFinite(t)) this.sample(t, sentAt, receivedAt, 1000);
  }

  /** The server's clock had passed `serverTime` by `receivedAt` (an SSE event's `at`). */
  atLeast(serverTime: number, receivedAt: number): void {
    const floor = serverTime - receivedAt;
    if (floor > this.offset) this.offset = floor;
  }
}
