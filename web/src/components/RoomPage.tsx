// A room: the frame around now playing, the queue, adding, host controls and history. On a phone
// these stack (now playing, add, queue, host, history); on a desktop the queue gets the left column.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, clock, navigate } from '../app.ts';
import { lastName } from '../identity.ts';
import { useExternal } from '../hooks.ts';
import { RoomSession } from '../session.ts';
import { AddTracks } from './AddTracks.tsx';
import { ConnectionBadge, RoomMenu, ShareButton, Toasts, TopBar } from './Chrome.tsx';
import { History } from './History.tsx';
import { HostPanel } from './HostPanel.tsx';
import { NowPlaying } from './NowPlaying.tsx';
import { withInvite } from '../invite.ts';
import { Invite, useRoomLink } from './Invite.tsx';
import { PlayHere } from './PlayHere.tsx';
import { Player } from '../player.ts';
import { Queue } from './Queue.tsx';

export function RoomPage({ roomId }: { roomId: string }) {
  const session = useMemo(() => new RoomSession(roomId, api, clock), [roomId]);
  useEffect(() => {
    void session.start();
    return () => session.stop();
  }, [session]);
  const player = useMemo(
    () =>
      new Player({
        serverNow: () => clock.now(),
        clockErrorMs: () => clock.errorMs,
        resync: () => void session.resync(),
        reportEnded: (entryId) => void session.reportEnded(entryId),
      }),
    [session],
  );
  useEffect(() => () => player.dispose(), [player]);
  const s = useExternal(session.subscribe, session.getState);
  const room = s.room;
  // A private room's link carries its invite (the view shows it to the host and co-hosts only).
  const link = withInvite(useRoomLink(roomId), room?.invite);

  useEffect(() => {
    document.title = room ? `${room.name} · Chorus` : 'Chorus';
  }, [room?.name]);

  if (s.notFound) {
    return (
      <main class="page narrow">
        <TopBar />
        <section class="card">
          <h1>No such room</h1>
          <p>
            There is no room <code>{roomId}</code> here. Check the link, or{' '}
            <a href="/" onClick={(e) => (e.preventDefault(), navigate('/'))}>
              create a room
            </a>
            .
          </p>
        </section>
      </main>
    );
  }
  if (!room) {
    return (
      <main class="page narrow">
        <TopBar />
        <p class="card" role="status">
          {s.loadError ? `${s.loadError} Retrying…` : 'Loading the room…'}
        </p>
      </main>
    );
  }

  const me = s.identity && room.me ? room.me : null;
  const isHost = me?.isHost ?? false;
  // "People" are the members here now (live connections), not everyone who ever joined.
  const here = room.present.length;
  const who = `${here} ${here === 1 ? 'person' : 'people'} here${me ? ` · you are ${me.name}${isHost ? ' (host)' : ''}` : ''}`;
  const whoIsHere = room.present.map((p) => p.name).join(', ') || 'nobody is here right now';
  return (
    <div class="page">
      <TopBar>
        <div class="room-title">
          <h1>{room.name}</h1>
          <span class="muted small room-who" title={whoIsHere}>
            {who}
          </span>
          {/* Over the room's title, never over a control, and one at a time (session.toast). */}
          <Toasts toasts={s.toasts} onDismiss={(id) => session.dismiss(id)} />
        </div>
        <div class="top-actions">
          <ConnectionBadge state={s.connection} />
          <span class="wide-only">
            <ShareButton roomName={room.name} url={link} onToast={(t) => session.toast('info', t)} />
          </span>
          {/* A phone's top bar has room for the name only: the rest is here (hidden when wide). */}
          <RoomMenu>
            <p class="room-menu-name">{room.name}</p>
            <p class="muted small">{who}</p>
            <ShareButton roomName={room.name} url={link} onToast={(t) => session.toast('info', t)} />
          </RoomMenu>
        </div>
      </TopBar>
      {s.connection === 'offline' && (
        <p class="banner offline-banner" role="status" data-offline-banner>
          <strong>Offline.</strong> The server cannot be reached: voting and adding are paused, and the room
          is shown as {s.keptAt === null ? 'it was' : `this device last saw it (${keptTime(s.keptAt)})`}. This
          page reconnects by itself.
        </p>
      )}
      {/* Offline, every button and field that would write is disabled at once (a disabled fieldset). */}
      <fieldset class="room-fieldset" disabled={s.connection === 'offline'}>
        <main class="room-grid">
          <div class="col col-main">
            {!me && <JoinCard roomName={room.name} onJoin={(name) => session.join(name)} />}
            <NowPlaying room={room} session={session} joined={me !== null} isHost={isHost} />
            <PlayHere room={room} player={player} />
            <Queue room={room} session={session} meId={me?.memberId ?? null} isHost={isHost} />
          </div>
          <div class="col col-side">
            {me && <AddTracks room={room} session={session} isHost={isHost} />}
            {isHost && <HostPanel room={room} session={session} />}
            <Invite roomId={room.id} link={link} />
            <History history={s.history} session={session} />
          </div>
        </main>
      </fieldset>
      <div class="sr-only" aria-live="polite" aria-atomic="true">
        {s.notice}
      </div>
    </div>
  );
}

/** When the kept copy was made, as a person says it: "at 21:04", or the day too if not today. */
function keptTime(at: number): string {
  const d = new Date(at);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? `at ${time}` : `${d.toLocaleDateString()} ${time}`;
}

function JoinCard({ roomName, onJoin }: { roomName: string; onJoin: (name: string) => Promise<boolean> }) {
  const [name, setName] = useState(lastName);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    await onJoin(name.trim());
    setBusy(false);
  };
  return (
    <section class="card join-card" aria-labelledby="join-h">
      <h2 id="join-h">Join “{roomName}”</h2>
      <p class="muted">Pick a name to add tracks and vote. No account needed.</p>
      <form class="inline-form" onSubmit={(e) => void submit(e)}>
        <label for="join-name" class="sr-only">
          Your name
        </label>
        <input
          id="join-name"
          class="input"
          placeholder="Your name"
          maxLength={80}
          required
          autocomplete="nickname"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Joining…' : 'Join'}
        </button>
      </form>
    </section>
  );
}
