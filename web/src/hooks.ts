// Small hooks shared by the components.

import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { RefObject } from 'preact';
import type { ServerClock } from './clock.ts';

/** Re-renders whenever `subscribe` reports a change; returns the current snapshot. */
export function useExternal<T>(subscribe: (listener: () => void) => () => void, get: () => T): T {
  const [, setTick] = useState(0);
  useEffect(() => subscribe(() => setTick((n) => n + 1)), [subscribe]);
  return get();
}

/** The server's time, refreshed every `everyMs` while mounted (drives progress bars and ETAs). */
export function useServerNow(clock: ServerClock, everyMs: number): number {
  const [now, setNow] = useState(() => clock.now());
  useEffect(() => {
    const t = setInterval(() => setNow(clock.now()), everyMs);
    return () => clearInterval(t);
  }, [clock, everyMs]);
  return now;
}

/** A value that follows `value` after it has stopped changing for `ms` (search as you type). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

const reducedMotion = (): boolean => matchMedia('(prefers-reduced-motion: reduce)').matches;

/**
 * FLIP: when the children of `list` (each with a data-key) change places, each slides from where it
 * was to where it is now, so a person sees a track climb rather than the list jumping. Positions
 * are offsetTop within the list (position: relative), so scrolling between renders does not matter.
 */
export function useFlip(list: RefObject<HTMLElement | null>, order: string): void {
  const last = useRef(new Map<string, number>());
  // Moving a row in the DOM takes the keyboard focus away from the button just pressed in it (a
  // vote that moves its own row); remember it before the update and give it back after.
  const focused = useRef<Element | null>(null);
  focused.current = document.activeElement;
  useLayoutEffect(() => {
    const el = list.current;
    if (!el) return;
    const before = focused.current;
    if (before instanceof HTMLElement && before !== document.activeElement && el.contains(before)) {
      before.focus({ preventScroll: true });
    }
    const animate = last.current.size > 0 && !reducedMotion();
    const now = new Map<string, number>();
    for (const child of Array.from(el.children) as HTMLElement[]) {
      const key = child.dataset['key'];
      if (!key) continue;
      const top = child.offsetTop;
      now.set(key, top);
      if (!animate) continue;
      const was = last.current.get(key);
      if (was === undefined) {
        child.animate(
          [
            { opacity: 0, transform: 'scale(0.97)' },
            { opacity: 1, transform: 'none' },
          ],
          {
            duration: 250,
            easing: 'ease-out',
          },
        );
      } else if (was !== top) {
        child.animate([{ transform: `translateY(${was - top}px)` }, { transform: 'none' }], {
          duration: 320,
          easing: 'cubic-bezier(0.2, 0.8, 0.2, 1)',
        });
      }
    }
    last.current = now;
  }, [list, order]);
}
