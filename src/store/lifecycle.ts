// The start/close phase machine every store shares: new -> starting -> open -> closing -> closed.
//
// start() is idempotent: while starting or open it returns the same promise. A failed start goes
// back to `new` (the store undid what it had done), so it may be tried again, unless close() was
// called meanwhile. close() is idempotent too and always ends `closed`: it first lets a start in
// progress finish (the store's start sees `closeRequested` and gives up), so the store's shutdown
// only ever runs from one known phase. Every "not open" refusal is the same UNAVAILABLE, written
// here once.

import type { ChorusError } from '../domain/index.ts';
import { chorusError } from '../domain/index.ts';

export type Phase = 'new' | 'starting' | 'open' | 'closing' | 'closed';

export class Lifecycle {
  /** How the store names itself in messages: `memory store at /data`, `redis store`. */
  readonly label: string;
  private readonly details: Record<string, unknown>;
  private current: Phase = 'new';
  private starting: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

  constructor(label: string, details: Record<string, unknown> = {}) {
    this.label = label;
    this.details = details;
  }

  get phase(): Phase {
    return this.current;
  }

  get isOpen(): boolean {
    return this.current === 'open';
  }

  /** close() has been called (the store may still be finishing its start or its shutdown). */
  get closeRequested(): boolean {
    return this.closing !== null;
  }

  /** Runs `startUp` once; a second call while starting or open gets the same promise. */
  start(startUp: () => Promise<void>): Promise<void> {
    if (this.closing !== null) return Promise.reject(this.unavailable());
    if (this.starting !== null) return this.starting;
    this.current = 'starting';
    this.starting = startUp().then(
      () => {
        // The store checks closeRequested itself; this is the last word, with no await before it.
        if (this.closing !== null) throw this.unavailable();
        this.current = 'open';
      },
      (err: unknown) => {
        this.current = 'new';
        this.starting = null;
        throw err;
      },
    );
    return this.starting;
  }

  /**
   * Runs `shutdown` once, after any start in progress has settled; `wasOpen` says whether the
   * store had started. Nothing runs for a store that never started.
   */
  close(shutdown: (wasOpen: boolean) => Promise<void>): Promise<void> {
    this.closing ??= (async () => {
      await this.starting?.catch(() => undefined);
      const wasOpen = this.current === 'open';
      if (this.current === 'new' || this.current === 'closed') {
        this.current = 'closed';
        return;
      }
      this.current = 'closing';
      try {
        await shutdown(wasOpen);
      } finally {
        this.current = 'closed';
      }
    })();
    return this.closing;
  }

  /** Throws the store's UNAVAILABLE unless it is open. */
  assertOpen(): void {
    if (this.current !== 'open') throw this.unavailable();
  }

  /** The one refusal of a store that is not open: not started yet, or closed (or closing). */
  unavailable(): ChorusError {
    const state = this.current === 'new' || this.current === 'starting' ? 'not started' : 'closed';
    return chorusError('STORE_CLOSED', { store: this.label, state, details: this.details });
  }

  /** For health(): why the store is not serving, or null while it is open. */
  notOpenDetail(): string | null {
    return this.current === 'open' ? null : `${this.label} is ${this.current}`;
  }
}
