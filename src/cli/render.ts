// How the client commands show a room to people: tracks, the room with its queue, the members.
// Pure: the current time is passed in where it matters (format.ts).

import type { RoomView, Track } from '../domain/index.ts';
import { count, eta, mmss, when } from './format.ts';
import type { MemberListing } from './api-client.ts';

/** A host recovery key as create-room and recovery-key print it: the key once, and how to keep it. */
export function recoveryKeyLines(roomId: string, key: string): string {
  return (
    `recovery-key ${key}\n` +
    `  keep it somewhere safe: it is shown only this once, and \`chorus recover ${roomId} --key KEY\` ` +
    `makes you the host again if this token is lost`
  );
}

export function trackLine(t: Track): string {
  return `${t.artist} - ${t.title} (${mmss(t.durationMs === 0 ? null : t.durationMs)})`;
}

export function renderRoom(room: RoomView): string {
  const people = room.presentCount > 0 ? `, ${count(room.presentCount, 'person', 'people')} here` : '';
  const lines = [
    `${room.name} [${room.id}]  version ${room.version}, ${count(room.memberCount, 'member')}${people}${room.locked ? ', locked' : ''}`,
  ];
  if (room.joinPending) lines.push('your join request waits for the host');
  if (room.pendingJoins.length > 0)
    lines.push(`waiting to join: ${room.pendingJoins.map((p) => p.name).join(', ')} (chorus pending)`);
  const np = room.nowPlaying;
  lines.push(
    np
      ? `now playing: ${trackLine(np.track)}  ${mmss(np.positionMs)} / ${mmss(np.track.durationMs === 0 ? null : np.track.durationMs)}${np.paused ? ' (paused)' : ''}  added by ${np.addedBy.name}`
      : 'now playing: nothing',
  );
  if (room.queue.length === 0) lines.push('queue: empty');
  for (const q of room.queue) {
    const vote = q.myVote === 1 ? ' (you: up)' : q.myVote === -1 ? ' (you: down)' : '';
    lines.push(
      `${String(q.position).padStart(3)}. ${trackLine(q.track)}  score ${q.score} (+${q.ups}/-${q.downs})${vote}  ${eta(q.etaMs)}  by ${q.addedBy.name}  [${q.entryId}]`,
    );
  }
  if (room.queueLength > room.queueOffset + room.queue.length)
    lines.push(`... ${room.queueLength - room.queue.length} more`);
  return lines.join('\n');
}

/** Rows of text in columns as wide as their widest cell (the last column is not padded). */
export function table(rows: ReadonlyArray<readonly string[]>): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `chorus members`: name, role, present, joined; then the banned. */
export function renderMembers(listing: MemberListing, now: number): string {
  const present = new Set(listing.present);
  const rows = [
    ['NAME', 'ROLE', 'PRESENT', 'JOINED', 'ID'],
    ...listing.members.map((m) => [
      m.name,
      m.role,
      present.has(m.memberId) ? 'yes' : 'no',
      when(m.joinedAt, now),
      m.memberId,
    ]),
  ];
  const lines = [table(rows)];
  if (listing.banned.length > 0) {
    lines.push('', `banned: ${listing.banned.map((b) => `${b.name} since ${when(b.at, now)}`).join(', ')}`);
  }
  return lines.join('\n');
}
