// The queue in the server's order, with one-tap votes (optimistic: the session shows my vote at
// once and the server's answer corrects the counts) and FLIP animation when the order changes.
// A row voted with the pointer does not move from under it: the order on screen is held (scores
// update in place) until the mouse leaves that row, or, by touch, until 1.5 s pass without another
// tap in the list; then the rows glide to the server's order. So a second tap never lands on
// another track. A vote from the keyboard moves the row at once and keeps the focus on its button.

import { useEffect, useRef, useState } from 'preact/hooks';
import { clock } from '../app.ts';
import { duration, eta, plural, spokenDuration, trackLength } from '../format.ts';
import { useFlip, useServerNow } from '../hooks.ts';
import { etas, score, type EntryModel, type RoomModel, type Vote } from '../model.ts';
import type { RoomSession } from '../session.ts';
import { Artwork } from './Artwork.tsx';

interface Props {
  room: RoomModel;
  session: RoomSession;
  meId: string | null;
  isHost: boolean;
}

/** How long a touch vote holds the order: long enough for a second tap, short enough to follow. */
const TOUCH_HOLD_MS = 1500;

/** The queue in a held order: the entries still there, as they were on screen, then any new ones. */
function heldOrder(queue: readonly EntryModel[], order: readonly string[]): EntryModel[] {
  const byId = new Map(queue.map((e) => [e.entryId, e]));
  const shown = order.flatMap((id) => byId.get(id) ?? []);
  const placed = new Set(order);
  return [...shown, ...queue.filter((e) => !placed.has(e.entryId))];
}

export function Queue({ room, session, meId, isHost }: Props) {
  const list = useRef<HTMLOListElement>(null);
  // Minutes are enough for ETAs: a slow tick keeps a long queue cheap to render.
  const now = useServerNow(clock, 5000);
  // While held: the entry ids in the order they are on screen, and the row the pointer voted on.
  const [hold, setHold] = useState<{ order: readonly string[]; entryId: string } | null>(null);
  const touchTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => clearTimeout(touchTimer.current ?? undefined), []);
  const shown = hold ? heldOrder(room.queue, hold.order) : room.queue;
  // ETAs follow the room's real order; the held rows show their own.
  const times = etas(room, now);
  const etaById = new Map(room.queue.map((e, i) => [e.entryId, times[i] ?? null]));
  const order = shown.map((e) => e.entryId).join(' ');
  useFlip(list, order);

  const votedWithPointer = (entryId: string, pointerType: string): void => {
    setHold((h) => ({ order: h?.order ?? shown.map((e) => e.entryId), entryId }));
    if (touchTimer.current !== null) clearTimeout(touchTimer.current);
    touchTimer.current =
      pointerType === 'mouse' || pointerType === 'pen'
        ? null
        : setTimeout(() => setHold(null), TOUCH_HOLD_MS);
  };
  const pointerLeft = (entryId: string, pointerType: string): void => {
    if (pointerType === 'touch') return; // a finger "leaves" after every tap: the timer decides
    setHold((h) => (h?.entryId === entryId ? null : h));
  };
  const total = room.queue.reduce((sum, e) => sum + e.track.durationMs, 0);

  return (
    <section class="card queue-card" aria-labelledby="queue-h">
      <div class="card-head">
        <h2 id="queue-h">Up next</h2>
        <span class="muted small">
          {plural(room.queueLength, 'track')}
          {room.queue.length > 0 ? ` · ${duration(total)}` : ''}
        </span>
      </div>
      {room.locked && (
        <p class="banner" role="note">
          <strong>The queue is locked.</strong>{' '}
          {isHost ? 'Only you can change it.' : 'Only the host can add or remove tracks.'}
        </p>
      )}
      {room.queue.length === 0 ? (
        <p class="empty">The queue is empty. Search for a track and add it.</p>
      ) : (
        <ol class="queue" ref={list} aria-label="Queue, most wanted first">
          {shown.map((entry, i) => (
            <QueueRow
              key={entry.entryId}
              entry={entry}
              position={i + 1}
              etaMs={etaById.get(entry.entryId) ?? null}
              mine={entry.addedBy.memberId === meId}
              canVote={meId !== null}
              canRemove={meId !== null && (isHost || (entry.addedBy.memberId === meId && !room.locked))}
              onVote={(v, pointerType) => {
                if (pointerType !== null) votedWithPointer(entry.entryId, pointerType);
                session.vote(entry.entryId, v);
              }}
              onPointerLeave={(pointerType) => pointerLeft(entry.entryId, pointerType)}
              onRemove={() => void session.remove(entry.entryId)}
            />
          ))}
        </ol>
      )}
      {room.queueLength > room.queue.length && (
        <p class="muted small more">…and {plural(room.queueLength - room.queue.length, 'more track')}</p>
      )}
    </section>
  );
}

interface RowProps {
  entry: EntryModel;
  position: number;
  etaMs: number | null;
  mine: boolean;
  canVote: boolean;
  canRemove: boolean;
  /** pointerType: 'mouse', 'pen' or 'touch'; null for a press from the keyboard. */
  onVote: (value: Vote, pointerType: string | null) => void;
  onPointerLeave: (pointerType: string) => void;
  onRemove: () => void;
}

/** How a click was made: a pointer's type, or null from the keyboard (a click with detail 0). */
function pointerOf(e: MouseEvent): string | null {
  if (e.detail === 0) return null;
  return e instanceof PointerEvent && e.pointerType !== '' ? e.pointerType : 'mouse';
}

function QueueRow({
  entry,
  position,
  etaMs,
  mine,
  canVote,
  canRemove,
  onVote,
  onPointerLeave,
  onRemove,
}: RowProps) {
  const { track } = entry;
  const s = score(entry);
  // An ETA is a span of time, so the local clock is right for it whatever the server's says.
  const startsAt =
    etaMs === null
      ? null
      : new Date(Date.now() + etaMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const name = `“${track.title}”`;
  return (
    <li
      class={`row ${mine ? 'row-mine' : ''}`}
      data-key={entry.entryId}
      data-entry-id={entry.entryId}
      data-track-id={track.trackId}
      data-my-vote={entry.myVote}
      data-score={s}
      onPointerLeave={(e) => onPointerLeave(e.pointerType)}
    >
      <span class="pos" aria-label={`Position ${position}`}>
        {position}
      </span>
      <Artwork track={track} size="small" />
      <div class="row-body">
        <p class="row-title">{track.title}</p>
        <p class="row-artist">{track.artist}</p>
        <p class="row-meta">
          <span
            aria-label={
              track.durationMs === 0 ? 'Length unknown' : `Duration ${spokenDuration(track.durationMs)}`
            }
          >
            {trackLength(track.durationMs)}
          </span>
          <span aria-hidden="true"> · </span>
          <span
            class="eta"
            title={startsAt === null ? 'Start time unknown' : `Expected to start around ${startsAt}`}
          >
            {eta(etaMs, position === 1)}
          </span>
          <span aria-hidden="true"> · </span>
          <span>{mine ? 'added by you' : `added by ${entry.addedBy.name}`}</span>
        </p>
      </div>
      <div class="votes" role="group" aria-label={`Votes for ${name}`}>
        <button
          type="button"
          class={`vote vote-up ${entry.myVote === 1 ? 'on' : ''}`}
          aria-pressed={entry.myVote === 1}
          aria-label={entry.myVote === 1 ? `Withdraw upvote for ${name}` : `Vote up ${name}`}
          disabled={!canVote}
          title={canVote ? undefined : 'Join the room to vote'}
          onClick={(e) => onVote(entry.myVote === 1 ? 0 : 1, pointerOf(e))}
        >
          <svg viewBox="0 0 24 24" aria-hidden="true" class="icon">
            <path d="M6 15l6-6 6 6" />
          </svg>
        </button>
        <span class="score" title={`${entry.ups} up, ${entry.downs} down`} aria-label={`Score ${s}`}>
          {s > 0 ? `+${s}` : s}
        </span>
        <button
          type="button"
          class={`vote vote-down ${entry.myVote === -1 ? 'on' : ''}`}
          aria-pressed={entry.myVote === -1}
          aria-label={entry.myVote === -1 ? `Withdraw downvote for ${name}` : `Vote down ${name}`}
          disabled={!canVote}
          title={canVote ? undefined : 'Join the room to vote'}
          onClick={(e) => onVote(entry.myVote === -1 ? 0 : -1, pointerOf(e))}
        >
          <svg viewBox="0 0 24 24" aria-hidden="true" class="icon">
            <path d="M6 9l6 6 6-6" />
          </svg>
        </button>
      </div>
      {canRemove ? (
        <button type="button" class="remove" aria-label={`Remove ${name} from the queue`} onClick={onRemove}>
          <svg viewBox="0 0 24 24" aria-hidden="true" class="icon">
            <path d="M7 7l10 10M17 7L7 17" />
          </svg>
        </button>
      ) : (
        <span class="remove-spacer" aria-hidden="true" />
      )}
    </li>
  );
}
