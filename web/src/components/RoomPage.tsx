// A room: the frame around now playing, the queue, adding, host controls and history. On a phone
// these stack (now playing, add, queue, host, members, history); on a desktop the queue gets the
// left column. A member the room no longer has (removed, banned) sees only that, plainly.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, clock, navigate } from '../app.ts';
import { lastName, loadAudioLeads, saveAudioLeads } from '../identity.ts';
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
import { MembersPanel } from './Members.tsx';
import { NewRecoveryKey, RecoverHost, RecoveryKeyDialog, takeFreshKey } from './Recovery.tsx';
import { hasHostPowers, type RoomModel } from '../model.ts';
import { peopleHere, ROLE_LABEL } from '../people.ts';
import type { Removal } from '../session.ts';
import { PASSCODE_LENGTH } from '../../../src/domain/joining.ts';

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
        leads: { initial: loadAudioLeads(), save: saveAudioLeads },
      }),
    [session],
  );
  useEffect(() => () => player.dispose(), [player]);
  const s = useExternal(session.subscribe, session.getState);
  // The key this browser just created the room with: shown once, in the "save it" dialog.
  const [freshKey, setFreshKey] = useState(() => takeFreshKey(roomId));
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
        {/* A private room reads as missing without its invite: its host can still recover it. */}
        <RecoverHost session={session} />
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

  if (s.removed) return <Removed removal={s.removed} roomName={room.name} session={session} />;

  const me = s.identity && !s.identity.pending && room.me ? room.me : null;
  // Host and co-hosts hold the host's powers (skip, pause, lock, settings, remove, admit).
  const isHost = hasHostPowers(me);
  // "People" are the members here now (live connections), not everyone who ever joined.
  const role = me && me.role !== 'member' ? ` (${ROLE_LABEL[me.role]})` : '';
  const who = `${peopleHere(room.present.length)}${me ? ` · you are ${me.name}${role}` : ''}`;
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
            {!me &&
              (s.identity?.pending ? (
                <WaitingCard room={room} />
              ) : (
                <JoinCard room={room} session={session} />
              ))}
            <NowPlaying room={room} session={session} joined={me !== null} isHost={isHost} />
            <PlayHere room={room} player={player} />
            <Queue room={room} session={session} meId={me?.memberId ?? null} isHost={isHost} />
          </div>
          <div class="col col-side">
            {me && <AddTracks room={room} session={session} isHost={isHost} />}
            {isHost && <HostPanel room={room} session={session} />}
            {isHost && <MembersPanel room={room} session={session} />}
            {me?.role === 'host' && <NewRecoveryKey session={session} onKey={setFreshKey} />}
            <Invite roomId={room.id} link={link} />
            {me?.role !== 'host' && !s.identity?.pending && <RecoverHost session={session} />}
            <History history={s.history} session={session} />
          </div>
        </main>
      </fieldset>
      <div class="sr-only" aria-live="polite" aria-atomic="true">
        {s.notice}
      </div>
      {freshKey && (
        <RecoveryKeyDialog
          roomId={room.id}
          roomName={room.name}
          link={link}
          recoveryKey={freshKey}
          onDone={() => setFreshKey(null)}
        />
      )}
    </div>
  );
}

/** What a removed or banned member sees instead of the room: why, and (unless banned) a way back. */
function Removed({
  removal,
  roomName,
  session,
}: {
  removal: Removal;
  roomName: string;
  session: RoomSession;
}) {
  const [title, text] = removal.banned
    ? [
        `You are banned from “${roomName}”`,
        'The host removed you from this room for good. This browser cannot join it again.',
      ]
    : removal.replacedAsHost
      ? [
          `You are no longer the host of “${roomName}”`,
          'Someone used the room’s host recovery key, so this browser’s host place was given up. If that was not you, recover the room with your key.',
        ]
      : [
          `You were removed from “${roomName}”`,
          'The host removed you from this room. You can join again if they let you.',
        ];
  return (
    <main class="page narrow" data-removed={removal.banned ? 'banned' : 'removed'}>
      <TopBar />
      <section class="card" role="alert">
        <h1>{title}</h1>
        <p>{text}</p>
        <p class="inline-form">
          <a class="btn" href="/" onClick={(e) => (e.preventDefault(), navigate('/'))}>
            Back to the start
          </a>
          {!removal.banned && (
            <button type="button" class="btn btn-primary" onClick={() => session.rejoin()}>
              {removal.replacedAsHost ? 'Open the room' : 'Join again'}
            </button>
          )}
        </p>
      </section>
      {removal.replacedAsHost && <RecoverHost session={session} />}
    </main>
  );
}

/** A join request that waits for the host (joinPolicy approval): the page checks by itself. */
function WaitingCard({ room }: { room: RoomModel }) {
  return (
    <section class="card join-card" aria-labelledby="waiting-h" data-testid="waiting">
      <h2 id="waiting-h">Waiting for the host</h2>
      <p class="muted" role="status">
        You asked to join “{room.name}”. The host lets people in; this page opens the room as soon as they do.
      </p>
    </section>
  );
}

/** When the kept copy was made, as a person says it: "at 21:04", or the day too if not today. */
function keptTime(at: number): string {
  const d = new Date(at);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? `at ${time}` : `${d.toLocaleDateString()} ${time}`;
}

function JoinCard({ room, session }: { room: RoomModel; session: RoomSession }) {
  const [name, setName] = useState(lastName);
  const [passcode, setPasscode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const policy = room.settings.joinPolicy;
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    setError(await session.join(name.trim(), policy === 'passcode' ? passcode : undefined));
    setBusy(false);
  };
  return (
    <section class="card join-card" aria-labelledby="join-h">
      <h2 id="join-h">Join “{room.name}”</h2>
      <p class="muted">
        {policy === 'passcode'
          ? 'This room needs its passcode: ask the host for it.'
          : policy === 'approval'
            ? 'The host lets people in: pick a name and ask to join.'
            : 'Pick a name to add tracks and vote. No account needed.'}
      </p>
      <form class="inline-form join-form" onSubmit={(e) => void submit(e)}>
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
        {policy === 'passcode' && (
          <>
            <label for="join-passcode" class="sr-only">
              Passcode
            </label>
            <input
              id="join-passcode"
              class="input"
              type="password"
              placeholder="Passcode"
              minLength={PASSCODE_LENGTH.min}
              maxLength={PASSCODE_LENGTH.max}
              required
              autocomplete="off"
              value={passcode}
              onInput={(e) => setPasscode(e.currentTarget.value)}
            />
          </>
        )}
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Joining…' : policy === 'approval' ? 'Ask to join' : 'Join'}
        </button>
      </form>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
