// Search the catalog as you type (debounced; a newer query cancels the older request) and add a
// track with one tap. The server decides what may be added: its refusal is shown in its words.

import { useEffect, useState } from 'preact/hooks';
import { api } from '../app.ts';
import { plainMessage } from '../api.ts';
import { duration } from '../format.ts';
import { useDebounced } from '../hooks.ts';
import type { RoomModel } from '../model.ts';
import type { RoomSession } from '../session.ts';
import type { Track } from '../../../src/domain/types.ts';
import { Artwork } from './Artwork.tsx';

interface Props {
  room: RoomModel;
  session: RoomSession;
  isHost: boolean;
}

type Results =
  | { kind: 'idle' }
  | { kind: 'searching'; tracks: readonly Track[] }
  | { kind: 'done'; tracks: readonly Track[] }
  | { kind: 'error'; message: string };

export function AddTracks({ room, session, isHost }: Props) {
  const [query, setQuery] = useState('');
  const settled = useDebounced(query.trim(), 200);
  const [results, setResults] = useState<Results>({ kind: 'idle' });
  const [adding, setAdding] = useState<ReadonlySet<string>>(new Set());

  useEffect(() => {
    if (!settled) {
      setResults({ kind: 'idle' });
      return;
    }
    const abort = new AbortController();
    setResults((r) => ({
      kind: 'searching',
      tracks: r.kind === 'done' || r.kind === 'searching' ? r.tracks : [],
    }));
    api.search(settled, abort.signal).then(
      (tracks) => setResults({ kind: 'done', tracks }),
      (err: unknown) => {
        if (!abort.signal.aborted) setResults({ kind: 'error', message: plainMessage(err) });
      },
    );
    return () => abort.abort();
  }, [settled]);

  const lockedOut = room.locked && !isHost;
  const where = (trackId: string): string | null =>
    room.nowPlaying?.track.trackId === trackId
      ? 'Playing now'
      : room.queue.some((e) => e.track.trackId === trackId)
        ? 'In the queue'
        : null;

  const add = async (track: Track): Promise<void> => {
    setAdding((s) => new Set(s).add(track.trackId));
    await session.add(track);
    setAdding((s) => {
      const next = new Set(s);
      next.delete(track.trackId);
      return next;
    });
  };

  const tracks = results.kind === 'done' || results.kind === 'searching' ? results.tracks : [];
  return (
    <section class="card add-card" aria-labelledby="add-h">
      <h2 id="add-h">Add a track</h2>
      {lockedOut && (
        <p class="banner" role="note">
          The host has locked the queue, so tracks cannot be added right now.
        </p>
      )}
      <form class="search" role="search" onSubmit={(e) => e.preventDefault()}>
        <label for="search-input" class="label">
          Search the catalog
        </label>
        <input
          id="search-input"
          class="input"
          type="search"
          placeholder="Title, artist or album"
          autocomplete="off"
          spellcheck={false}
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
          aria-describedby="search-status"
          aria-controls="search-results"
        />
      </form>
      <p id="search-status" class="muted small" aria-live="polite">
        {results.kind === 'idle'
          ? 'Type to search; results appear as you type.'
          : results.kind === 'searching'
            ? 'Searching…'
            : results.kind === 'error'
              ? results.message
              : results.tracks.length === 0
                ? `Nothing found for “${settled}”.`
                : `${results.tracks.length} result${results.tracks.length === 1 ? '' : 's'} for “${settled}”.`}
      </p>
      {tracks.length > 0 && (
        <ul class="results" id="search-results">
          {tracks.map((track) => {
            const status = where(track.trackId);
            const busy = adding.has(track.trackId);
            return (
              <li class="result" key={track.trackId} data-track-id={track.trackId}>
                <Artwork track={track} size="small" />
                <div class="row-body">
                  <p class="row-title">{track.title}</p>
                  <p class="row-artist">
                    {track.artist} <span class="muted">· {duration(track.durationMs)}</span>
                  </p>
                </div>
                {status ? (
                  // Queued or playing: adding it again would be refused, so say where it is instead.
                  <span class="tag result-status" data-status={status}>
                    {status}
                  </span>
                ) : (
                  <button
                    type="button"
                    class="btn btn-small btn-primary"
                    disabled={lockedOut || busy}
                    aria-label={`Add “${track.title}” by ${track.artist}`}
                    onClick={() => void add(track)}
                  >
                    {busy ? 'Adding…' : 'Add'}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
