// What plays now, with a progress bar on the server's timeline (startedAt + durationMs at the
// estimated server time), who added it, and the skip vote.

import { clock } from '../app.ts';
import { duration, spokenDuration, UNKNOWN } from '../format.ts';
import { useServerNow } from '../hooks.ts';
import { playedMs, type RoomModel } from '../model.ts';
import type { RoomSession } from '../session.ts';
import { Artwork } from './Artwork.tsx';

interface Props {
  room: RoomModel;
  session: RoomSession;
  joined: boolean;
  isHost: boolean;
}

export function NowPlaying({ room, session, joined, isHost }: Props) {
  const np = room.nowPlaying;
  if (!np) {
    const canStart = isHost && room.queueLength > 0;
    return (
      <section class="card now-playing idle" aria-labelledby="np-h">
        <h2 id="np-h" class="eyebrow">
          Now playing
        </h2>
        <p class="idle-text">
          {room.queueLength > 0
            ? room.settings.autoplay
              ? 'Starting the next track…'
              : 'Playback is paused. The host starts it.'
            : 'Nothing is playing. Add a track to get the party started.'}
        </p>
        {canStart && (
          <button type="button" class="btn btn-primary" onClick={() => void session.advance()}>
            Start playing
          </button>
        )}
      </section>
    );
  }

  const skipVotes = room.settings.skipVotes;
  const votedSkip = np.myVote === -1;
  return (
    <section class="card now-playing" aria-labelledby="np-h" data-entry-id={np.entryId}>
      <Artwork track={np.track} size="large" />
      <div class="np-body">
        <h2 id="np-h" class="eyebrow">
          Now playing
        </h2>
        <p class="np-title" data-testid="now-playing-title">
          {np.track.title}
        </p>
        <p class="np-artist">
          {np.track.artist}
          {np.track.album ? <span class="muted"> · {np.track.album}</span> : null}
        </p>
        <p class="muted small">
          Added by {np.addedBy.name}
          {np.pausedAt !== null && <strong data-testid="paused-badge"> · Paused</strong>}
        </p>
        <Progress startedAt={np.startedAt} pausedAt={np.pausedAt} durationMs={np.track.durationMs} />
        <div class="np-actions">
          {skipVotes > 0 && (
            <span class="skip-count" title="When enough people vote to skip, the track is skipped">
              Skip votes: {np.downs} of {skipVotes}
            </span>
          )}
          {joined && skipVotes > 0 && (
            <button
              type="button"
              class={`btn btn-small ${votedSkip ? 'btn-pressed' : ''}`}
              aria-pressed={votedSkip}
              onClick={() => session.vote(np.entryId, votedSkip ? 0 : -1)}
            >
              {votedSkip ? 'Voted to skip' : 'Vote to skip'}
            </button>
          )}
          {isHost && (
            <button
              type="button"
              class="btn btn-small"
              data-testid={np.pausedAt === null ? 'pause' : 'resume'}
              onClick={() => void session.setPaused(np.pausedAt === null)}
            >
              {np.pausedAt === null ? 'Pause' : 'Resume'}
            </button>
          )}
          {isHost && (
            <button type="button" class="btn btn-small btn-danger" onClick={() => void session.advance()}>
              Skip now
            </button>
          )}
        </div>
      </div>
    </section>
  );
}

function Progress({
  startedAt,
  pausedAt,
  durationMs,
}: {
  startedAt: number;
  pausedAt: number | null;
  durationMs: number;
}) {
  const now = useServerNow(clock, 500);
  // While paused the bar holds still at the pause.
  const played = playedMs(startedAt, durationMs, pausedAt ?? now);
  const fraction = durationMs > 0 ? played / durationMs : 0;
  return (
    <div class="progress">
      <div
        class="progress-track"
        role="progressbar"
        aria-label="Track progress"
        aria-valuemin={0}
        aria-valuemax={Math.round(durationMs / 1000)}
        aria-valuenow={Math.round(played / 1000)}
        aria-valuetext={`${spokenDuration(played)} of ${spokenDuration(durationMs)}`}
      >
        <div class="progress-fill" style={{ transform: `scaleX(${fraction})` }} />
      </div>
      <div class="progress-times" aria-hidden="true">
        <span>{duration(played)}</span>
        <span>{durationMs === 0 ? UNKNOWN : `-${duration(durationMs - played)}`}</span>
      </div>
    </div>
  );
}
