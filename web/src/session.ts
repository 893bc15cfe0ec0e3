// One open room: loads it, keeps it live over SSE, and carries out what the person does in it.
//
// Consistency rules (the page must be right after any disconnect, without a reload):
// - SSE sends one `change` per room version. The next version is applied; an older one is dropped
//   (a refetch got ahead of the stream); a newer one means something was missed: refetch the room
//   with my token (so `myVote` is right) at `minVersion` of that version, then go on from there.
// - `reset` (the server no longer has the events I missed) is handled the same way.
// - After every write, the answer's version must show up; if the stream has not brought it within
//   a moment (it may come from a node that is behind), refetch at that version.
// - While offline (the browser says so) the stream is closed; back online it resumes after the
//   version held. The browser's own reconnect (with Last-Event-ID) covers a node going away.
// - A page loaded while the server cannot be reached shows the room as this device last saw it
//   (offline.ts), as Offline, and keeps trying; the first answer replaces it whatever its version.
//
// Membership (issue 20): a join into an approval room waits (identity.pending) and is read again
// every few seconds, and at once when the stream says it was decided; once the room shows me as a
// member it is an ordinary identity. A member whom the room no longer knows (the host removed or
// banned them, or a recovery key replaced the host) is told so plainly, forgets the token and
// stops acting: the stream closes and nothing more is sent with it. The server says so on the
// member's own stream (`removed`, its last event), so the page reacts at once, private room or not.

import {
  ApiError,
  plainMessage,
  type Api,
  type Joined,
  type MembersAnswer,
  type SettingsChange,
} from './api.ts';
import type { ServerClock } from './clock.ts';
import { clientKey, forgetIdentity, loadIdentity, saveIdentity, type Identity } from './identity.ts';
import { loadLastSeen, saveLastSeen } from './offline.ts';
import {
  applyEvents,
  fromView,
  withPending,
  withVoteAnswer,
  type HistoryItem,
  type RoomModel,
  type Vote,
} from './model.ts';
import type { RoomEvent, Track } from '../../src/domain/types.ts';
import type { RoomView } from '../../src/domain/view.ts';
import { inviteFor } from './invite.ts';

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'offline';

/**
 * How long a lost stream may try to reconnect before the page says "Offline" and disables the
 * controls that write (the stream keeps retrying; the first message back makes it live again).
 */
export const OFFLINE_AFTER_MS = 4000;

export interface Toast {
  readonly id: number;
  readonly kind: 'error' | 'info';
  readonly text: string;
}

export interface HistoryState {
  readonly records: readonly HistoryItem[];
  readonly nextBefore: number | null;
  readonly loading: boolean;
  readonly loaded: boolean;
}

export interface SessionState {
  /** The room as shown: the server's state with my in-flight votes and removals applied. */
  readonly room: RoomModel | null;
  readonly loading: boolean;
  readonly notFound: boolean;
  readonly loadError: string | null;
  readonly identity: Identity | null;
  readonly connection: Connection;
  readonly history: HistoryState;
  readonly toasts: readonly Toast[];
  /** The latest change in words, for the aria-live region. */
  readonly notice: string;
  /** When the room shown is this device's kept copy (the server was unreachable at load): its age. */
  readonly keptAt: number | null;
  /** I was a member and am no longer: why, in the words the page shows (null while I am, or never was). */
  readonly removed: Removal | null;
}

/** How I stopped being a member: removed by the host (banned or not), or a recovery key replaced me as host. */
export interface Removal {
  readonly banned: boolean;
  readonly replacedAsHost: boolean;
}

/** How often a waiting join request asks whether the host decided (the stream usually says first). */
export const PENDING_POLL_MS = 2000;

interface ChangeMessage {
  readonly version: number;
  readonly events: readonly RoomEvent[];
}

const EXPECT_WITHIN_MS = 1500;
const KEEP_EVERY_MS = 1000;

export class RoomSession {
  readonly roomId: string;
  private readonly api: Api;
  private readonly clock: ServerClock;
  private listeners = new Set<() => void>();
  private state: SessionState;

  /** The server's state as last known (without anything optimistic). */
  private room: RoomModel | null = null;
  private pendingVotes = new Map<string, Vote>();
  private voteTickets = new Map<string, number>();
  private voteChains = new Map<string, Promise<void>>();
  private removing = new Set<string>();

  private source: EventSource | null = null;
  private everConnected = false;
  private reconnectDelay = 1000;
  private buffer: ChangeMessage[] = [];
  private refetching = false;
  private refetchAgain: number | null = null;
  private expected = 0;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private stopped = false;
  private toastId = 0;

  constructor(roomId: string, api: Api, clock: ServerClock) {
    this.roomId = roomId;
    this.api = api;
    this.clock = clock;
    this.state = {
      room: null,
      loading: true,
      notFound: false,
      loadError: null,
      identity: loadIdentity(roomId),
      connection: 'connecting',
      history: { records: [], nextBefore: null, loading: false, loaded: false },
      toasts: [],
      notice: '',
      keptAt: null,
      removed: null,
    };
  }

  // ---- Observing --------------------------------------------------------------------------------

  getState = (): SessionState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(patch: Partial<SessionState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  /** Recomputes what is shown from the server's state and what is in flight. */
  private show(extra: Partial<SessionState> = {}): void {
    const room = this.room;
    if (room) {
      // A removal stays hidden until the server's state has no such entry either.
      for (const id of this.removing) {
        if (!room.queue.some((e) => e.entryId === id)) this.removing.delete(id);
      }
    }
    this.set({ ...extra, room: room ? withPending(room, this.pendingVotes, this.removing) : null });
    this.keepSoon();
  }

  /** Keeps the server's state for an offline reload, at most once a second (offline.ts). */
  private keeping = false;
  private keepSoon(): void {
    if (this.keeping || !this.room || this.state.keptAt !== null) return;
    this.keeping = true;
    this.later(KEEP_EVERY_MS, () => {
      this.keeping = false;
      this.keepNow();
    });
  }

  private keepNow = (): void => {
    if (this.room && this.state.keptAt === null) {
      saveLastSeen(this.roomId, this.room, this.state.history.records);
    }
  };

  // ---- Life cycle -------------------------------------------------------------------------------

  async start(): Promise<void> {
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    window.addEventListener('pagehide', this.keepNow);
    await this.load();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    window.removeEventListener('pagehide', this.keepNow);
    this.keepNow();
    this.source?.close();
    this.source = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.listeners.clear();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private async load(): Promise<void> {
    const identity = this.state.identity;
    try {
      // Read at least the version I joined at: another node may not have seen my join yet.
      const view = await this.api.getRoom(this.roomId, identity?.token ?? null, identity?.version);
      // The kept copy is replaced, not merged: the server may have lost data since it was kept.
      if (this.state.keptAt !== null) this.room = null;
      this.adopt(view);
      this.show({ loading: false, loadError: null, keptAt: null });
      if (this.settle(view, identity?.token ?? null)) return;
      this.connect();
      void this.loadHistory();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'NOT_FOUND') {
        this.set({ loading: false, notFound: true });
        return;
      }
      if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') {
        this.dropIdentity();
        return this.load();
      }
      if (err instanceof ApiError && err.reason === 'MEMBER_BANNED') {
        this.set({ loading: false });
        this.removedFromRoom(true);
        return;
      }
      const kept = this.room ? null : loadLastSeen(this.roomId);
      if (kept) {
        // The server cannot be reached: the room as this device last saw it, read-only.
        this.room = kept.room;
        this.setHistory({ records: kept.history, nextBefore: null, loaded: false });
        this.show({ keptAt: kept.savedAt, connection: 'offline' });
      }
      this.set({ loading: false, loadError: plainMessage(err) });
      this.later(3000, () => void this.load());
    }
  }

  /** Takes a room answer as the new truth, if it is not older than what is held. */
  private adopt(view: RoomView): void {
    if (this.room && view.version < this.room.version) return;
    this.noteMe();
    const before = this.room;
    this.room = fromView(view, before?.names);
    // Handed the room (the same identity, now the host): the room has no recovery key any more.
    const was = before?.me;
    if (was && was.role !== 'host' && view.me?.role === 'host' && view.me.memberId === was.memberId) {
      this.toast('info', 'You are the host now. Make a recovery key (in the side column) and keep it safe.');
    }
    const newest = this.state.history.records[0]?.playNo ?? 0;
    // Plays may have ended while the stream was away: the history head is then reloaded.
    if (before && this.state.history.loaded && this.room.playCount > newest) void this.loadHistory();
  }

  /**
   * Squares what I hold of myself with a room read with my token. Returns true when I stopped being
   * a member (the page then stops acting).
   */
  private settle(view: RoomView, readWith: string | null): boolean {
    const identity = this.state.identity;
    if (!identity || this.stopped) return false;
    // Read with another token (or none) than the one I hold now (I joined or recovered meanwhile):
    // it says nothing about me. Read again with mine.
    if (identity.token !== readWith) {
      this.later(0, () => void this.refetch(view.version));
      return false;
    }
    if (identity.pending) {
      if (view.me) {
        const member: Identity = { memberId: identity.memberId, token: identity.token, name: identity.name };
        saveIdentity(this.roomId, { ...member, version: view.version });
        this.set({ identity: member });
        this.toast('info', 'The host let you in');
        this.connect(); // again with my token: now I count as here
      } else if (view.joinPending) {
        this.later(PENDING_POLL_MS, () => void this.checkPending());
      } else {
        forgetIdentity(this.roomId);
        this.set({ identity: null });
        this.toast('error', 'The host did not let you in.');
      }
      return false;
    }
    if (view.me) return false;
    // The room no longer knows me. Whether it banned me only an authenticated call tells (the
    // view does not say); removal without a ban, or a recovery that replaced me, leave my token
    // valid but memberless.
    void this.api.members(this.roomId, identity.token).then(
      () => this.removedFromRoom(false),
      (err: unknown) => this.removedFromRoom(err instanceof ApiError && err.reason === 'MEMBER_BANNED'),
    );
    this.stopStream();
    return true;
  }

  private async checkPending(): Promise<void> {
    const identity = this.state.identity;
    if (!identity?.pending) return;
    if (this.refetching) {
      this.later(PENDING_POLL_MS, () => void this.checkPending());
      return;
    }
    try {
      const view = await this.api.getRoom(this.roomId, identity.token);
      this.adopt(view);
      this.show();
      this.settle(view, identity.token);
    } catch {
      this.later(PENDING_POLL_MS, () => void this.checkPending());
    }
  }

  /** Whether I was the host when last seen as a member: a host leaves only by a recovery. */
  private wasHost = false;
  private noteMe(): void {
    if (this.room?.me) this.wasHost = this.room.me.isHost;
  }

  /**
   * I am no longer a member: forget the token, close the stream, and say why. Nobody removes the
   * host (access.ts), so a host who is gone was replaced by someone holding the recovery key.
   */
  private removedFromRoom(banned: boolean): void {
    if (this.state.removed) return;
    forgetIdentity(this.roomId);
    this.stopStream();
    this.set({ identity: null, removed: { banned, replacedAsHost: this.wasHost && !banned } });
  }

  private stopStream(): void {
    this.source?.close();
    this.source = null;
  }

  /** After a removal without a ban: back to the room as a visitor, who may join again. */
  rejoin(): void {
    if (!this.state.removed || this.state.removed.banned) return;
    this.set({ removed: null });
    void this.load();
  }

  // ---- The live stream --------------------------------------------------------------------------

  private connect(): void {
    if (this.stopped || !this.room || this.state.removed) return;
    this.source?.close();
    if (!navigator.onLine) {
      this.set({ connection: 'offline' });
      return;
    }
    // With my token (an EventSource sends no headers): the room counts me present while it is open.
    // A waiting join request is not a member yet: it streams as a visitor does.
    const token = this.state.identity?.pending ? undefined : this.state.identity?.token;
    const invite = inviteFor(this.roomId);
    const url =
      `/v1/rooms/${encodeURIComponent(this.roomId)}/events?after=${this.room.version}` +
      (token ? `&token=${encodeURIComponent(token)}` : '') +
      (invite ? `&invite=${encodeURIComponent(invite)}` : '');
    const source = new EventSource(url);
    this.source = source;
    if (this.everConnected) this.reconnecting();
    else this.set({ connection: 'connecting' });

    source.addEventListener('open', () => {
      this.everConnected = true;
      this.lostAt = null;
      this.reconnectDelay = 1000;
      this.set({ connection: 'live' });
    });
    source.addEventListener('change', (e) => {
      const message = JSON.parse((e as MessageEvent<string>).data) as ChangeMessage;
      const at = message.events[0]?.at;
      if (at !== undefined) this.clock.atLeast(at, Date.now());
      this.buffer.push(message);
      this.drain();
    });
    // The room removed me: the server's last word on this stream (it then closes it). Said at once,
    // before the browser could reconnect with a token that opens nothing any more.
    source.addEventListener('removed', (e) => {
      if (source !== this.source) return;
      const { banned } = JSON.parse((e as MessageEvent<string>).data) as { banned: boolean };
      this.noteMe(); // the host removed by a recovery is told that, not "removed"
      this.removedFromRoom(banned);
    });
    source.addEventListener('reset', (e) => {
      const { version } = JSON.parse((e as MessageEvent<string>).data) as { version: number };
      // The reset's room has no viewer (no myVote): read it again with my token.
      if (!this.room || version > this.room.version) void this.refetch(version);
    });
    source.addEventListener('error', () => {
      if (source !== this.source) return;
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an HTTP error such as 503 from a proxy): retry with a backoff.
        this.set({ connection: 'offline' });
        const delay = this.reconnectDelay;
        this.reconnectDelay = Math.min(15_000, delay * 2);
        this.later(delay, () => {
          if (this.source === source) this.connect();
        });
      } else {
        this.reconnecting();
      }
    });
  }

  /** When the stream was lost (null while live): after OFFLINE_AFTER_MS of trying, say Offline. */
  private lostAt: number | null = null;

  private reconnecting(): void {
    const now = Date.now();
    if (this.lostAt === null) {
      this.lostAt = now;
      this.later(OFFLINE_AFTER_MS, () => {
        if (this.lostAt !== null && this.state.connection !== 'live') this.set({ connection: 'offline' });
      });
    }
    this.set({ connection: now - this.lostAt >= OFFLINE_AFTER_MS ? 'offline' : 'reconnecting' });
  }

  private onOffline = (): void => {
    this.source?.close();
    this.source = null;
    this.set({ connection: 'offline' });
  };

  private onOnline = (): void => {
    if (this.room && this.state.keptAt === null) this.connect();
    else void this.load();
  };

  /** Applies buffered changes in version order, or refetches across a gap. */
  private drain(): void {
    if (!this.room || this.refetching) return;
    this.buffer.sort((a, b) => a.version - b.version);
    let stale = false;
    const notices: string[] = [];
    while (this.buffer.length > 0) {
      const message = this.buffer[0]!;
      if (message.version <= this.room.version) {
        this.buffer.shift();
        continue;
      }
      if (message.version !== this.room.version + 1) {
        this.show();
        void this.refetch(message.version);
        return;
      }
      this.buffer.shift();
      const pendingId = this.state.identity?.pending ? this.state.identity.memberId : null;
      if (pendingId && message.events.some((e) => decides(e, pendingId))) void this.checkPending();
      this.noteMe();
      const out = applyEvents(this.room, message.events);
      if (out.removedMe) {
        this.room = out.room;
        this.show();
        this.removedFromRoom(out.removedMe.banned);
        return;
      }
      this.room = out.room;
      stale ||= out.stale;
      notices.push(...out.notices);
      if (out.cleared) this.setHistory({ records: [], nextBefore: null });
      if (out.ended.length > 0) {
        const have = new Set(this.state.history.records.map((r) => r.playNo));
        const fresh = out.ended.filter((r) => !have.has(r.playNo));
        this.setHistory({ records: [...fresh, ...this.state.history.records] });
      }
    }
    this.show(notices.length > 0 ? { notice: notices.join('. ') } : {});
    if (stale) void this.refetch(this.room.version);
  }

  /** Reads the room again with my token, at least at `minVersion`. */
  private async refetch(minVersion: number): Promise<void> {
    if (this.refetching) {
      this.refetchAgain = Math.max(this.refetchAgain ?? 0, minVersion);
      return;
    }
    this.refetching = true;
    try {
      const token = this.state.identity?.token ?? null;
      const view = await this.api.getRoom(this.roomId, token, minVersion);
      this.adopt(view);
      if (view.version >= (this.room?.version ?? 0)) this.settle(view, token);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') this.dropIdentity();
      if (err instanceof ApiError && err.reason === 'MEMBER_BANNED') {
        this.refetching = false;
        this.removedFromRoom(true);
        return;
      }
      // Try again shortly: the stream may be back by then, or the node caught up.
      this.later(2000, () => void this.refetch(minVersion));
    } finally {
      this.refetching = false;
    }
    const again = this.refetchAgain;
    this.refetchAgain = null;
    if (again !== null && this.room && again > this.room.version) void this.refetch(again);
    else this.drain();
  }

  /** A write's answer said `version`: make sure the page gets there even if the stream lags. */
  private expect(version: number): void {
    if (!this.room || version <= this.room.version) return;
    this.expected = Math.max(this.expected, version);
    this.later(EXPECT_WITHIN_MS, () => {
      if (this.room && this.room.version < this.expected) void this.refetch(this.expected);
    });
  }

  // ---- History ----------------------------------------------------------------------------------

  private setHistory(patch: Partial<HistoryState>): void {
    this.set({ history: { ...this.state.history, ...patch } });
  }

  /** The newest page (first = true) or the next older one. */
  async loadHistory(first = true): Promise<void> {
    const h = this.state.history;
    if (!first && h.nextBefore === null) return;
    this.setHistory({ loading: true });
    try {
      const page = await this.api.history(this.roomId, {
        before: first ? undefined : (h.nextBefore ?? undefined),
        minVersion: this.room?.version,
      });
      const records = first ? page.records : [...this.state.history.records, ...page.records];
      this.setHistory({ records, nextBefore: page.nextBefore, loading: false, loaded: true });
    } catch (err) {
      this.setHistory({ loading: false });
      this.toast('error', plainMessage(err));
    }
  }

  // ---- Actions ----------------------------------------------------------------------------------

  toast(kind: Toast['kind'], text: string): void {
    const id = ++this.toastId;
    // One at a time: the newest replaces the last, so a burst of adds never piles notes up.
    this.set({ toasts: [{ id, kind, text }] });
    this.later(kind === 'error' ? 8000 : 3500, () => this.dismiss(id));
  }

  dismiss(id: number): void {
    this.set({ toasts: this.state.toasts.filter((t) => t.id !== id) });
  }

  private dropIdentity(): void {
    forgetIdentity(this.roomId);
    this.set({ identity: null });
    this.toast('error', 'Your place in this room has expired. Please join again.');
  }

  /** Runs a write that needs my token; reports a refusal in the server's words. */
  private async act<T>(write: (token: string) => Promise<T>): Promise<T | null> {
    const token = this.state.identity?.token;
    if (!token) {
      this.toast('error', 'Join the room first.');
      return null;
    }
    try {
      return await write(token);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') this.dropIdentity();
      else if (err instanceof ApiError && err.reason === 'MEMBER_BANNED') this.removedFromRoom(true);
      else if (err instanceof ApiError && err.reason === 'NOT_A_MEMBER') this.removedFromRoom(false);
      else this.toast('error', plainMessage(err));
      return null;
    }
  }

  /**
   * Joins (with the room's passcode when it asks for one). Resolves null when in (or waiting for
   * the host), else what to tell the person next to the form.
   */
  async join(name: string, passcode?: string): Promise<string | null> {
    try {
      const joined = await this.api.join(this.roomId, name, { passcode, clientKey: clientKey() });
      await this.enter(joined, name);
      return null;
    } catch (err) {
      if (err instanceof ApiError && err.reason === 'PASSCODE_WRONG') return 'That passcode is not right.';
      if (err instanceof ApiError && err.reason === 'PASSCODE_REQUIRED') {
        return 'This room needs its passcode: ask the host for it.';
      }
      if (err instanceof ApiError && err.reason === 'MEMBER_BANNED') return 'You are banned from this room.';
      return plainMessage(err);
    }
  }

  /** Takes a member id and token (joined, waiting, or recovered as host) as mine. */
  private async enter(joined: Joined, name: string): Promise<void> {
    const identity: Identity = {
      memberId: joined.memberId,
      token: joined.token,
      name,
      version: joined.room.version,
      ...(joined.pending === true ? { pending: true } : {}),
    };
    saveIdentity(this.roomId, identity);
    // A recovery may come from the "no such room" page (a private room reads as missing without it).
    this.set({ identity, removed: null, notFound: false, loading: false });
    await this.refetch(joined.room.version);
    // Stream again, now with my token, so that I count as here.
    this.connect();
  }

  /** The room's recovery key makes me its host again. Resolves null when done, else the reason. */
  async recover(recoveryKey: string): Promise<string | null> {
    try {
      const joined = await this.api.recoverHost(this.roomId, recoveryKey.trim());
      await this.enter({ ...joined, pending: false }, joined.room.me?.name ?? 'host');
      this.toast('info', 'You are the host again');
      return null;
    } catch (err) {
      return plainMessage(err);
    }
  }

  // ---- Host and co-hosts: members, roles, removal, join requests -------------------------------

  /** The members list (host and co-hosts); null when refused (the reason is shown as a toast). */
  members(): Promise<MembersAnswer | null> {
    return this.act((token) => this.api.members(this.roomId, token));
  }

  async setRole(memberId: string, role: 'cohost' | 'member'): Promise<boolean> {
    const view = await this.act((token) => this.api.setRole(this.roomId, token, memberId, role));
    if (view) this.expect(view.version);
    return view !== null;
  }

  async handOver(memberId: string): Promise<boolean> {
    const view = await this.act((token) => this.api.handOver(this.roomId, token, memberId));
    // My own role changed: read the room again with my token.
    if (view) await this.refetch(view.version);
    return view !== null;
  }

  /** Host: a new recovery key (the one before stops working); null when refused (a toast says why). */
  async newRecoveryKey(): Promise<string | null> {
    const made = await this.act((token) => this.api.newRecoveryKey(this.roomId, token));
    if (made) this.expect(made.version);
    return made?.recoveryKey ?? null;
  }

  async removeMember(memberId: string, how: { ban: boolean; removeEntries: boolean }): Promise<boolean> {
    const answer = await this.act((token) => this.api.removeMember(this.roomId, token, memberId, how));
    if (answer) this.expect(answer.version);
    return answer !== null;
  }

  async decideJoin(memberId: string, approve: boolean): Promise<void> {
    const view = await this.act((token) => this.api.decideJoin(this.roomId, token, memberId, approve));
    if (view) this.expect(view.version);
  }

  /** One tap: my vote becomes `value` at once; the server's answer then sets the counts. */
  vote(entryId: string, value: Vote): void {
    const ticket = (this.voteTickets.get(entryId) ?? 0) + 1;
    this.voteTickets.set(entryId, ticket);
    this.pendingVotes.set(entryId, value);
    this.show();
    // One request at a time per entry, so the server sees my taps in the order I made them.
    const previous = this.voteChains.get(entryId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const answer = await this.act((token) => this.api.vote(this.roomId, token, entryId, value));
      if (answer && this.room) {
        this.room = withVoteAnswer(this.room, answer, value);
        this.expect(answer.version);
      }
      if (this.voteTickets.get(entryId) === ticket) {
        this.pendingVotes.delete(entryId);
        this.voteChains.delete(entryId);
      }
      this.show();
    });
    this.voteChains.set(entryId, next);
  }

  async remove(entryId: string): Promise<void> {
    this.removing.add(entryId);
    this.show();
    const answer = await this.act((token) => this.api.removeEntry(this.roomId, token, entryId));
    if (answer) this.expect(answer.version);
    else this.removing.delete(entryId);
    this.show();
  }

  async add(track: Track): Promise<boolean> {
    const answer = await this.act((token) => this.api.addTrack(this.roomId, token, track.trackId));
    if (!answer) return false;
    this.expect(answer.version);
    this.toast('info', answer.started ? `“${track.title}” is playing now` : `Added “${track.title}”`);
    return true;
  }

  /** Host: skip what plays (only if it still does), or start playback when idle. */
  async advance(): Promise<void> {
    const expected = this.room?.nowPlaying?.entryId ?? null;
    const answer = await this.act((token) => this.api.advance(this.roomId, token, expected));
    if (answer) this.expect(answer.room.version);
  }

  /** Host: pause or resume the playing track. */
  async setPaused(paused: boolean): Promise<void> {
    const answer = await this.act((token) => this.api.setPaused(this.roomId, token, paused));
    if (answer) this.expect(answer.version);
  }

  /**
   * This device played `entryId` to its end. Quiet on refusal: another device, or the clock, may
   * have moved the room on, or this device ran a little ahead; the timeline decides either way.
   */
  async reportEnded(entryId: string): Promise<void> {
    const token = this.state.identity?.token;
    if (!token) return;
    try {
      const answer = await this.api.reportEnded(this.roomId, token, entryId);
      this.expect(answer.room.version);
    } catch {
      // See above: nothing to tell the person.
    }
  }

  /** Reads the room once more (its answer also re-measures the server's clock). */
  async resync(): Promise<void> {
    if (this.room) await this.refetch(this.room.version);
  }

  async setLocked(locked: boolean): Promise<void> {
    const answer = await this.act((token) => this.api.setLocked(this.roomId, token, locked));
    if (answer) this.expect(answer.version);
  }

  async updateSettings(patch: SettingsChange): Promise<boolean> {
    const answer = await this.act((token) => this.api.updateSettings(this.roomId, token, patch));
    if (!answer) return false;
    this.expect(answer.version);
    // Made private, the room has an invite now, which only a read shows (the share link needs it).
    if (patch.public === false) await this.refetch(answer.version);
    this.toast('info', 'Settings saved');
    return true;
  }
}

/** Whether a room event decides the join request of `memberId` (admitted or turned away). */
function decides(event: RoomEvent, memberId: string): boolean {
  return (
    (event.type === 'memberJoined' && event.member.memberId === memberId) ||
    (event.type === 'joinDenied' && event.memberId === memberId)
  );
}
