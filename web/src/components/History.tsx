// Recent plays, newest first: how each ended and the votes it ended with; older pages on request.

import { clock } from '../app.ts';
import { ago, endReason } from '../format.ts';
import { useServerNow } from '../hooks.ts';
import type { HistoryState, RoomSession } from '../session.ts';
import { Artwork } from './Artwork.tsx';

export function History({ history, session }: { history: HistoryState; session: RoomSession }) {
  const now = useServerNow(clock, 30_000);
  return (
    <section class="card history-card" aria-labelledby="history-h">
      <h2 id="history-h">Recently played</h2>
      {history.loaded && history.records.length === 0 && <p class="empty">Nothing has played yet.</p>}
      {history.records.length > 0 && (
        <ol class="history" aria-label="Recently played, newest first">
          {history.records.map((r) => (
            <li class="row history-row" key={r.playNo} data-entry-id={r.entryId} data-reason={r.reason}>
              <Artwork track={r.track} size="small" />
              <div class="row-body">
                <p class="row-title">{r.track.title}</p>
                <p class="row-artist">{r.track.artist}</p>
                <p class="row-meta">
                  <span class={`reason reason-${r.reason}`}>{endReason(r.reason)}</span>
                  <span aria-hidden="true"> · </span>
                  <span aria-label={`${r.ups} up, ${r.downs} down`}>
                    ▲{r.ups} ▼{r.downs}
                  </span>
                  <span aria-hidden="true"> · </span>
                  <span>added by {r.addedBy.name}</span>
                  <span aria-hidden="true"> · </span>
                  <time dateTime={new Date(r.endedAt).toISOString()}>{ago(now - r.endedAt)}</time>
                </p>
              </div>
            </li>
          ))}
        </ol>
      )}
      {history.nextBefore !== null && (
        <button
          type="button"
          class="btn btn-quiet load-more"
          disabled={history.loading}
          onClick={() => void session.loadHistory(false)}
        >
          {history.loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}
