// The page without its server: the service worker that keeps the page shell (sw.ts) and, per room,
// the last state this device saw (localStorage), so that a reload with the server gone shows the
// room as it was, read-only, instead of the browser's error page or an empty "Loading…".
//
// Invariants: the kept state is only ever shown as "Offline" (every write disabled, RoomPage) and is
// replaced wholesale by the first answer from the server, whatever its version (the server may have
// lost or reset its data meanwhile). It is this device's copy: nothing in it is sent anywhere.

import type { HistoryItem, RoomModel } from './model.ts';

/** What is kept of a room: the server's state as last known (nothing optimistic) and recent plays. */
export interface LastSeen {
  readonly room: RoomModel;
  readonly history: readonly HistoryItem[];
  /** Local time it was kept at, to say how old the picture is. */
  readonly savedAt: number;
}

const key = (roomId: string): string => `chorus:last:${roomId}`;
/** Enough history for the screen; the rest loads when the server is back. */
const HISTORY_KEPT = 20;

export function saveLastSeen(roomId: string, room: RoomModel, history: readonly HistoryItem[]): void {
  const last: LastSeen = { room, history: history.slice(0, HISTORY_KEPT), savedAt: Date.now() };
  try {
    localStorage.setItem(key(roomId), JSON.stringify(last));
  } catch {
    // No storage (private mode, full): the page still works, only an offline reload shows less.
  }
}

export function loadLastSeen(roomId: string): LastSeen | null {
  try {
    const raw = localStorage.getItem(key(roomId));
    if (!raw) return null;
    const last = JSON.parse(raw) as Partial<LastSeen>;
    if (!last.room || typeof last.room.id !== 'string' || !Array.isArray(last.history)) return null;
    return { room: last.room, history: last.history, savedAt: last.savedAt ?? 0 };
  } catch {
    return null;
  }
}

export function forgetLastSeen(roomId: string): void {
  try {
    localStorage.removeItem(key(roomId));
  } catch {
    // As above.
  }
}

/**
 * Installs the service worker. Browsers allow it only in a secure context (https, or localhost): a
 * page opened at a LAN address over plain http works as before, without offline reloads.
 */
export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator) || !isSecureContext) return;
  navigator.serviceWorker.register('/sw.js').catch(() => {
    // Not fatal: the page works online without it.
  });
}
