// A private room opens only with its invite secret (or a member's token): a link to one carries it
// (`/r/ROOM?invite=…`). The invite a link brought is kept per room in this browser, so a reload or
// a later visit still opens the room, and is sent on reads, the live stream and the join.

const key = (roomId: string): string => `chorus.invite.${roomId}`;

/** The invite this browser holds for the room: the page's own link first, else the one kept. */
export function inviteFor(roomId: string): string | undefined {
  let fromLink: string | null = null;
  try {
    fromLink = new URLSearchParams(globalThis.location?.search ?? '').get('invite');
    if (fromLink) localStorage.setItem(key(roomId), fromLink);
    return fromLink ?? localStorage.getItem(key(roomId)) ?? undefined;
  } catch {
    return fromLink ?? undefined; // no storage (private mode, or no page at all): the link alone
  }
}

/** The link guests open: with the room's invite when it has one (only its host and co-hosts see it). */
export function withInvite(link: string, invite: string | undefined): string {
  return invite ? `${link}?invite=${encodeURIComponent(invite)}` : link;
}
