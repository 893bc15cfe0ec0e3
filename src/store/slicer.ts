// Long synchronous work (applying a long run of log entries, serialising a big snapshot) yields to
// the event loop every few ms, so the node keeps answering requests and reading replies meanwhile;
// a reply left unread behind a long synchronous stretch would otherwise hit its client's timeout.

/** Longest stretch of work before yielding to the event loop. */
const SLICE_MS = 20;

export class Slicer {
  private start = performance.now();

  async yieldIfLong(): Promise<void> {
    if (performance.now() - this.start < SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.start = performance.now();
  }
}
