// The public room list's rules, for every store alike: which rooms are listed (public ones), how a
// room reads in the list, and its order (newest first, the id breaking ties, so that the order is
// total and every node and store gives the same page).

import type { RoomState } from './types.ts';

/** A room as the public room list shows it. */
export interface RoomListing {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  readonly memberCount: number;
  readonly queueLength: number;
  /** "artist - title" of what plays now. */
  readonly nowPlaying: string | null;
  readonly version: number;
}

/** Whether the room appears in the public list. */
export function isListed(state: RoomState): boolean {
  return state.settings.public;
}

export function listingOf(state: RoomState): RoomListing {
  const np = state.nowPlaying;
  return {
    id: state.id,
    name: state.name,
    createdAt: state.createdAt,
    memberCount: state.members.size,
    queueLength: state.queue.length,
    nowPlaying: np ? `${np.entry.track.artist} - ${np.entry.track.title}` : null,
    version: state.version,
  };
}

/** The list's order: newest first, then by id. */
export function compareListings(
  a: Pick<RoomListing, 'createdAt' | 'id'>,
  b: Pick<RoomListing, 'createdAt' | 'id'>,
): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
