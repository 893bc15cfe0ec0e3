// The people side of a room as the page shows it, as pure functions (unit-tested under Node,
// web/test/people.test.ts): which member actions a host or co-host is offered, the members list
// with who is here, and the host recovery key as a file to keep.
//
// The rules are the server's (src/domain/access.ts): only the host changes roles and hands the room
// over; the host removes anyone but themselves; a co-host removes plain members only. The page only
// hides what the server would refuse anyway; the unit test checks these against the domain's rules.

import type { Role } from '../../src/domain/types.ts';
import type { MemberListing } from './api.ts';
import type { MemberRef } from '../../src/domain/view.ts';

export interface MemberActions {
  /** The role a button offers to set (co-host <-> member), or null when none may be offered. */
  readonly setRole: 'cohost' | 'member' | null;
  readonly handOver: boolean;
  /** Remove (kick), with or without their waiting tracks, optionally banning them. */
  readonly remove: boolean;
}

const NONE: MemberActions = { setRole: null, handOver: false, remove: false };

/** What `me` may do to `target` (never anything to themselves). */
export function actionsFor(me: Role, target: Role, self: boolean): MemberActions {
  if (self || target === 'host') return NONE;
  if (me === 'host')
    return { setRole: target === 'cohost' ? 'member' : 'cohost', handOver: true, remove: true };
  if (me === 'cohost') return { setRole: null, handOver: false, remove: target === 'member' };
  return NONE;
}

export interface RosterRow extends MemberListing {
  readonly here: boolean;
}

const ROLE_RANK: Readonly<Record<Role, number>> = { host: 0, cohost: 1, member: 2 };

/** The members list as shown: host, co-hosts, then members; those here first within each; then by join. */
export function roster(members: readonly MemberListing[], present: readonly MemberRef[]): RosterRow[] {
  const here = new Set(present.map((p) => p.memberId));
  return members
    .map((m) => ({ ...m, here: here.has(m.memberId) }))
    .sort(
      (a, b) =>
        ROLE_RANK[a.role] - ROLE_RANK[b.role] ||
        Number(b.here) - Number(a.here) ||
        a.joinedAt - b.joinedAt ||
        (a.memberId < b.memberId ? -1 : 1),
    );
}

export const ROLE_LABEL: Readonly<Record<Role, string>> = {
  host: 'host',
  cohost: 'co-host',
  member: 'member',
};

/** "3 people here", as the room's header and the members panel say it. */
export function peopleHere(count: number): string {
  return `${count} ${count === 1 ? 'person' : 'people'} here`;
}

/** The recovery key as a small text file a host keeps: what it is, where it works, how to use it. */
export function recoveryFile(
  roomName: string,
  roomId: string,
  link: string,
  key: string,
): { name: string; text: string } {
  return {
    name: `chorus-${roomId}-host-recovery-key.txt`,
    text:
      `Chorus host recovery key for “${roomName}” (room ${roomId})\n\n` +
      `${key}\n\n` +
      `Lost your host place (another browser, cleared storage)? Open ${link}, choose\n` +
      `“Recover host” and paste the key. Whoever holds this key can become the host: keep it private.\n`,
  };
}

/** A skip share (0..1) as the settings form shows it, in whole percent, and back. */
export const shareToPercent = (share: number): number => Math.round(share * 100);
export const percentToShare = (percent: number): number => Math.round(percent) / 100;
