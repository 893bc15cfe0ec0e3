// The front door: create a room, join one by link or code, or pick a public room.

import { useEffect, useState } from 'preact/hooks';
import { api, navigate, parseRoomInput, roomPath } from '../app.ts';
import { ApiError, plainMessage, type Joined, type RoomListing } from '../api.ts';
import { clientKey, lastName, saveIdentity } from '../identity.ts';
import { plural } from '../format.ts';
import { TopBar } from './Chrome.tsx';
import { rememberFreshKey } from './Recovery.tsx';

function enter(joined: Joined, name: string): void {
  saveIdentity(joined.room.id, {
    memberId: joined.memberId,
    token: joined.token,
    name,
    version: joined.room.version,
    ...(joined.pending === true ? { pending: true } : {}),
  });
  navigate(roomPath(joined.room.id));
}

export function Home() {
  const [rooms, setRooms] = useState<readonly RoomListing[] | null>(null);
  useEffect(() => {
    document.title = 'Chorus';
    api.listRooms().then(setRooms, () => setRooms([]));
  }, []);

  return (
    <div class="page narrow">
      <TopBar />
      <main>
        <section class="hero">
          <h1>Play music together</h1>
          <p class="muted">
            Start a room, share the link, and let everyone add tracks and vote on what plays next.
          </p>
        </section>
        <div class="home-grid">
          <CreateRoom />
          <JoinRoom />
        </div>
        {rooms && rooms.length > 0 && (
          <section class="card" aria-labelledby="rooms-h">
            <h2 id="rooms-h">Open rooms</h2>
            <ul class="room-list">
              {rooms.map((r) => (
                <li key={r.id}>
                  <a href={roomPath(r.id)} onClick={(e) => (e.preventDefault(), navigate(roomPath(r.id)))}>
                    <span class="row-title">{r.name}</span>
                    <span class="muted small">
                      {plural(r.memberCount, 'member')} · {plural(r.queueLength, 'track')} queued
                      {r.nowPlaying ? ` · playing “${r.nowPlaying}”` : ''}
                    </span>
                  </a>
                </li>
              ))}
            </ul>
          </section>
        )}
      </main>
    </div>
  );
}

function CreateRoom() {
  const [roomName, setRoomName] = useState('');
  const [name, setName] = useState(lastName);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api.createRoom(roomName.trim(), name.trim());
      // Shown once, by the room page's "save it" dialog; never stored.
      rememberFreshKey(created.room.id, created.recoveryKey);
      enter(created, name.trim());
    } catch (err) {
      setError(plainMessage(err));
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="create-h">
      <h2 id="create-h">Start a room</h2>
      <form class="stack" onSubmit={(e) => void submit(e)}>
        <label class="field">
          <span class="label">Room name</span>
          <input
            class="input"
            required
            maxLength={80}
            placeholder="Friday party"
            value={roomName}
            onInput={(e) => setRoomName(e.currentTarget.value)}
          />
        </label>
        <NameField value={name} onInput={setName} />
        <FormEnd error={error} busy={busy} label="Create room" working="Creating…" />
      </form>
    </section>
  );
}

/** The "Your name" field both forms ask for. */
function NameField({ value, onInput }: { value: string; onInput: (name: string) => void }) {
  return (
    <label class="field">
      <span class="label">Your name</span>
      <input
        class="input"
        required
        maxLength={80}
        autocomplete="nickname"
        value={value}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
    </label>
  );
}

/** A form's error, if any, and its submit button (which says what it is doing while busy). */
function FormEnd(p: { error: string | null; busy: boolean; label: string; working: string }) {
  return (
    <>
      {p.error && (
        <p class="form-error" role="alert">
          {p.error}
        </p>
      )}
      <button type="submit" class="btn btn-primary" disabled={p.busy}>
        {p.busy ? p.working : p.label}
      </button>
    </>
  );
}

function JoinRoom() {
  const [link, setLink] = useState('');
  const [name, setName] = useState(lastName);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const roomId = parseRoomInput(link);
    if (!roomId) {
      setError('That does not look like a room link or code. Paste the link you were sent.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      enter(await api.join(roomId, name.trim(), { clientKey: clientKey() }), name.trim());
    } catch (err) {
      // The room page asks for the passcode (and says what the room needs).
      if (err instanceof ApiError && err.reason === 'PASSCODE_REQUIRED') return navigate(roomPath(roomId));
      setError(plainMessage(err));
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="join-room-h">
      <h2 id="join-room-h">Join a room</h2>
      <form class="stack" onSubmit={(e) => void submit(e)}>
        <label class="field">
          <span class="label">Room link or code</span>
          <input
            class="input"
            required
            placeholder="friday-party-a633c"
            autocapitalize="none"
            value={link}
            onInput={(e) => setLink(e.currentTarget.value)}
          />
        </label>
        <NameField value={name} onInput={setName} />
        <FormEnd error={error} busy={busy} label="Join room" working="Joining…" />
      </form>
    </section>
  );
}
