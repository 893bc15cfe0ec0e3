// Indexes beside immutable structures (the queue, order.ts), so that a room finds a queued entry by
// id without scanning it, while its state stays plain, JSON-serialisable data.
//
// Each command derives the room's next arrays from the previous ones. An index (built by one scan
// on first use) lives in a WeakMap keyed by the array it describes, and when a new array is made
// from that array the index is updated in place and handed on to it. A run of commands therefore
// costs O(1) per lookup and change. An array whose index was handed on (an older state used again)
// or never built (a state restored from a snapshot) simply gets a fresh one on its next lookup, so
// an index always answers exactly what a scan of its own array would. Invisible to callers: no
// state, event or result depends on whether an index existed.

export class HandedIndex<A extends object, I> {
  private readonly byArray = new WeakMap<A, I>();
  private readonly build: (array: A) => I;

  constructor(build: (array: A) => I) {
    this.build = build;
  }

  /** The index of `array`, built by a scan when it has none. */
  of(array: A): I {
    let index = this.byArray.get(array);
    if (index === undefined) {
      index = this.build(array);
      this.byArray.set(array, index);
    }
    return index;
  }

  /** The index of `array` if it has one (building one would cost more than a caller saves). */
  peek(array: A): I | undefined {
    return this.byArray.get(array);
  }

  /**
   * `to` was made from `from`: `update` turns from's index into to's, which then belongs to `to`
   * alone. When `from` has no index there is nothing to hand on; `to` builds its own when asked.
   */
  handOn(from: A, to: A, update: (index: I) => void): void {
    const index = this.byArray.get(from);
    if (index === undefined || from === to) return;
    this.byArray.delete(from);
    update(index);
    this.byArray.set(to, index);
  }
}
