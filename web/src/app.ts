// The page's shared services and its two routes: `/` (create or join) and `/r/<roomId>` (a room).

import { Api } from './api.ts';
import { ServerClock } from './clock.ts';

export const clock = new ServerClock();
export const api = new Api(clock);

/** The room id of a `/r/<roomId>` path, or null for the home page. */
export function roomIdOf(path: string): string | null {
  const match = /^\/r\/([a-z0-9-]+)\/?$/.exec(path);
  return match ? match[1]! : null;
}

export const roomPath = (roomId: string): string => `/r/${roomId}`;

/** Moves to another page of the app without a reload. */
export function navigate(path: string): void {
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** Accepts a room link, a path, or a bare room id, as people paste them. */
export function parseRoomInput(input: string): string | null {
  const text = input.trim();
  if (!text) return null;
  try {
    const fromUrl = roomIdOf(new URL(text, location.origin).pathname);
    if (fromUrl) return fromUrl;
  } catch {
    // Not a URL: maybe a bare id.
  }
  const bare = text.toLowerCase();
  return /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/.test(bare) ? bare : null;
}
