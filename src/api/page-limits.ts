// How much one page of a list may hold, for REST (schemas.ts) and gRPC (chorus-services.ts) alike:
// the one table of page sizes, so that both APIs accept and default the same.

export interface PageLimit {
  readonly min: number;
  readonly max: number;
  /** The size of a page when the request names none. */
  readonly fallback: number;
}

export const PAGE_LIMITS = {
  /** Queue entries in a room view (0: the room without its queue). */
  queue: { min: 0, max: 1000, fallback: 200 },
  /** Plays in a page of history. */
  history: { min: 1, max: 200, fallback: 20 },
  /** Rooms in the public list. */
  rooms: { min: 1, max: 500, fallback: 50 },
  /** Catalog search results. */
  search: { min: 1, max: 100, fallback: 20 },
} as const satisfies Record<string, PageLimit>;
