// `chorus watch` for people: one line per change ("21:04:05 votes on Moonlight: +2 (2 up, 0 down), now #1").
// Events name members and entries by id, so the watcher keeps what it has seen of the room: the
// entries of the last reset and those added since (with their scores, to know each one's place), and
// the names of members it has seen (adders, joiners). A member who joined before the watch began and
// has added nothing is "someone" ("the host" for the host), unless it is the watcher itself: the
// room's public view does not list members. Places follow the
// room's order (domain/order.ts: score descending, then insertion). Pure: no I/O, times from events.

import { compareEntries } from '../domain/order.ts';
import type { QueueEntry, RoomEvent, RoomView, Track } from '../domain/index.ts';
import { clock, mmss } from './format.ts';

type Known = Pick<QueueEntry, 'entryId' | 'track' | 'seq' | 'ups' | 'downs'>;

export class WatchLines {
  private readonly entries = new Map<string, Known>();
  private readonly names = new Map<string, string>();
  private playing: { entryId: string; track: Track } | null = null;

  /** A member whose name the stream will not tell (the watcher, read with its own token). */
  know(member: { readonly memberId: string; readonly name: string }): void {
    this.names.set(member.memberId, member.name);
  }

  /** A whole room (the stream's first message, or after a gap): forget everything else. */
  reset(room: RoomView): void {
    this.entries.clear();
    if (!this.names.has(room.hostId)) this.names.set(room.hostId, 'the host');
    for (const q of room.queue) {
      this.entries.set(q.entryId, q);
      this.names.set(q.addedBy.memberId, q.addedBy.name);
    }
    if (room.me) this.names.set(room.me.memberId, room.me.name);
    const np = room.nowPlaying;
    this.playing = np ? { entryId: np.entryId, track: np.track } : null;
    if (np) this.names.set(np.addedBy.memberId, np.addedBy.name);
  }

  /** The line for one event (and the model updated by it). */
  line(event: RoomEvent): string {
    return `${clock(event.at, true)} ${this.describe(event)}`;
  }

  private who(memberId: string | null): string {
    if (memberId === null) return 'the room';
    return this.names.get(memberId) ?? 'someone';
  }

  private title(entryId: string): string {
    const track =
      this.entries.get(entryId)?.track ?? (this.playing?.entryId === entryId ? this.playing.track : null);
    return track ? track.title : 'a track';
  }

  /** 1-based place among the entries known to this watcher. */
  private place(entryId: string): number | null {
    const entry = this.entries.get(entryId);
    if (!entry) return null;
    let before = 0;
    for (const other of this.entries.values()) {
      if (other !== entry && compareEntries(other, entry) < 0) before++;
    }
    return before + 1;
  }

  private describe(e: RoomEvent): string {
    switch (e.type) {
      case 'roomCreated':
        this.names.set(e.hostId, 'the host');
        return `room "${e.name}" created`;
      case 'memberJoined':
        this.names.set(e.member.memberId, e.member.name);
        return `${e.member.name} joined`;
      case 'entryAdded': {
        this.entries.set(e.entry.entryId, e.entry);
        const place = this.place(e.entry.entryId);
        return `${this.who(e.entry.addedBy)} added ${e.entry.track.title} by ${e.entry.track.artist} (${mmss(e.entry.track.durationMs || null)})${place ? `: #${place}` : ''}`;
      }
      case 'entryRemoved': {
        const title = this.title(e.entryId);
        this.entries.delete(e.entryId);
        return e.reason === 'votedOff' ? `${title} was voted off` : `${this.who(e.by)} removed ${title}`;
      }
      case 'voteChanged': {
        const known = this.entries.get(e.entryId);
        if (known) this.entries.set(e.entryId, { ...known, ups: e.ups, downs: e.downs });
        // Events say the counts, never who voted which way (issue 20).
        const score = e.score > 0 ? `+${e.score}` : String(e.score);
        const place = this.place(e.entryId);
        return `votes on ${this.title(e.entryId)}: ${score} (${e.ups} up, ${e.downs} down)${place ? `, now #${place}` : ''}`;
      }
      case 'trackEnded': {
        const how = { finished: 'finished', skipped: 'was skipped', votedOff: 'was voted off' }[
          e.record.reason
        ];
        return `${e.record.track.title} ${how}`;
      }
      case 'trackStarted': {
        const { entry } = e.nowPlaying;
        this.entries.delete(entry.entryId);
        this.playing = { entryId: entry.entryId, track: entry.track };
        return `now playing: ${entry.track.title} by ${entry.track.artist} (${mmss(entry.track.durationMs || null)}), added by ${this.who(entry.addedBy)}`;
      }
      case 'settingsChanged':
        return 'the host changed the settings';
      case 'lockChanged':
        return e.locked ? 'the host locked the queue' : 'the host unlocked the queue';
      case 'playbackPaused':
        return `the host paused ${e.nowPlaying.entry.track.title}`;
      case 'playbackResumed':
        return `the host resumed ${e.nowPlaying.entry.track.title}`;
      case 'cleared':
        this.entries.clear();
        this.playing = null;
        return 'the queue and the history were cleared';
      case 'roleChanged':
        return `${this.who(e.memberId)} is now ${e.role === 'cohost' ? 'a co-host' : e.role === 'host' ? 'the host' : 'a member'}`;
      case 'memberRemoved':
        return `${this.who(e.memberId)} was ${e.banned ? 'banned' : 'removed'}`;
      case 'presenceChanged':
        return `here now: ${e.present.length === 0 ? 'nobody' : e.present.map((id) => this.who(id)).join(', ')}`;
      case 'joinRequested':
        this.names.set(e.memberId, e.name);
        return `${e.name} asks to join`;
      case 'joinDenied':
        return `${this.who(e.memberId)} was not admitted`;
    }
  }
}
