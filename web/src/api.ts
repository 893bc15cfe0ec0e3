// The REST API v1 as the page uses it. Every answer feeds the server clock; writes carry an
// Idempotency-Key and are retried with the same key when the network or a node failed, so a retry
// never adds a track twice. Failures become ApiError with the server's own message, which is
// written for people ("“Shadow” is already in the queue", "the host has locked the queue").

import type { HistoryPage, QueueItemView, RoomView } from '../../src/domain/view.ts';
import type { Role, SettingsPatch, Track } from '../../src/domain/types.ts';
import type { ServerClock } from './clock.ts';
import { inviteFor } from './invite.ts';
import type { HistoryItem, Vote } from './model.ts';

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, status: number, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details;
  }

  /** The server's reason (details.reason), e.g. PASSCODE_WRONG or MEMBER_BANNED. */
  get reason(): string | undefined {
    const r = this.details['reason'];
    return typeof r === 'string' ? r : undefined;
  }

  /** Worth retrying: the request may not have reached a healthy node. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

/** What to show a person for any failure. */
export function plainMessage(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return 'Could not reach the server. Check your connection and try again.';
    const m = err.message.trim();
    return m.charAt(0).toUpperCase() + m.slice(1);
  }
  return 'Something went wrong. Please try again.';
}

export interface Joined {
  readonly room: RoomView;
  readonly memberId: string;
  readonly token: string;
  /** The room admits by approval: this join waits for the host (joinPolicy approval). */
  readonly pending?: boolean;
}

/** Creating a room also answers the host recovery key, this once (the room keeps only its hash). */
export interface Created extends Joined {
  readonly recoveryKey: string;
}

/** The members list the host and co-hosts read (GET /v1/rooms/:id/members). */
export interface MembersAnswer {
  readonly members: readonly MemberListing[];
  readonly banned: readonly { memberId: string; name: string; at: number }[];
  readonly version: number;
}

export interface MemberListing {
  readonly memberId: string;
  readonly name: string;
  readonly role: Role;
  readonly joinedAt: number;
}

/** A join's extras: the passcode of a passcode room, and this browser's client key (a ban keeps it). */
export interface JoinOptions {
  readonly passcode?: string | undefined;
  readonly clientKey?: string | undefined;
}

export interface VoteAnswer {
  readonly entryId: string;
  readonly ups: number;
  readonly downs: number;
  readonly score: number;
  readonly effect: 'none' | 'votedOff' | 'skipped';
  readonly position: number | null;
  readonly version: number;
}

export interface RoomListing {
  readonly id: string;
  readonly name: string;
  readonly memberCount: number;
  readonly queueLength: number;
  readonly nowPlaying: string | null;
}

/** A settings change as the host sends it: a passcode rides along (the server keeps only its hash). */
export type SettingsChange = SettingsPatch & { readonly passcode?: string };

export type { SettingsPatch };

interface RequestOptions {
  readonly token?: string | null | undefined;
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly signal?: AbortSignal | undefined;
}

/** Room answers are fetched with a queue window this long; longer queues show a count below it. */
export const QUEUE_WINDOW = 500;

export class Api {
  private readonly clock: ServerClock;

  constructor(clock: ServerClock) {
    this.clock = clock;
  }

  // ---- Reads ----------------------------------------------------------------------------------

  async getRoom(roomId: string, token: string | null, minVersion?: number): Promise<RoomView> {
    const room = await this.request<RoomView>('GET', `/v1/rooms/${enc(roomId)}`, {
      token,
      query: { minVersion, limit: QUEUE_WINDOW, invite: inviteFor(roomId) },
    });
    return room;
  }

  async listRooms(): Promise<readonly RoomListing[]> {
    return (await this.request<{ rooms: RoomListing[] }>('GET', '/v1/rooms', { query: { limit: 20 } })).rooms;
  }

  async history(
    roomId: string,
    options: { before?: number | undefined; minVersion?: number | undefined },
  ): Promise<{ records: readonly HistoryItem[]; nextBefore: number | null; version: number }> {
    return this.request<HistoryPage & { version: number }>('GET', `/v1/rooms/${enc(roomId)}/history`, {
      query: { before: options.before, minVersion: options.minVersion, limit: 20, invite: inviteFor(roomId) },
    });
  }

  /** Where guests can open this node (see share.ts). */
  share(): Promise<{ publicUrl: string | null; lanUrls: string[] }> {
    return this.request('GET', '/v1/share', {});
  }

  async search(q: string, signal?: AbortSignal): Promise<readonly Track[]> {
    return (
      await this.request<{ tracks: Track[] }>('GET', '/v1/catalog/search', {
        query: { q, limit: 20 },
        signal,
      })
    ).tracks;
  }

  // ---- Writes ---------------------------------------------------------------------------------

  createRoom(name: string, hostName: string): Promise<Created> {
    return this.write<Created>('POST', '/v1/rooms', { body: { name, hostName } });
  }

  join(roomId: string, name: string, options: JoinOptions = {}): Promise<Joined> {
    return this.write<Joined>('POST', `/v1/rooms/${enc(roomId)}/members`, {
      body: { name, invite: inviteFor(roomId), clientKey: options.clientKey, passcode: options.passcode },
    });
  }

  /** The recovery key makes its holder the host again, under a new member id and token. */
  recoverHost(roomId: string, recoveryKey: string): Promise<Joined> {
    return this.write<Joined>('POST', `/v1/rooms/${enc(roomId)}/recover`, { body: { recoveryKey } });
  }

  /** Host and co-hosts: who the members are, with their roles, and who is banned. */
  members(roomId: string, token: string): Promise<MembersAnswer> {
    return this.request<MembersAnswer>('GET', `/v1/rooms/${enc(roomId)}/members`, { token });
  }

  /** Host: make a member a co-host, or a plain member again. */
  setRole(roomId: string, token: string, memberId: string, role: 'cohost' | 'member'): Promise<RoomView> {
    return this.write('PUT', `/v1/rooms/${enc(roomId)}/members/${enc(memberId)}/role`, {
      token,
      body: { role },
    });
  }

  /** Host: a new recovery key, answered once (the one before, if any, stops working). */
  newRecoveryKey(roomId: string, token: string): Promise<{ recoveryKey: string; version: number }> {
    return this.write('POST', `/v1/rooms/${enc(roomId)}/recovery-key`, { token });
  }

  /** Host: make another member the host (the caller stays on as a co-host). */
  handOver(roomId: string, token: string, memberId: string): Promise<RoomView> {
    return this.write('POST', `/v1/rooms/${enc(roomId)}/hand-over`, { token, body: { memberId } });
  }

  /** Host or co-host: remove a member, with their waiting entries or not, banning them or not. */
  removeMember(
    roomId: string,
    token: string,
    memberId: string,
    how: { readonly ban: boolean; readonly removeEntries: boolean },
  ): Promise<{ memberId: string; banned: boolean; removedEntries: number; version: number }> {
    return this.write('DELETE', `/v1/rooms/${enc(roomId)}/members/${enc(memberId)}`, {
      token,
      query: { ban: String(how.ban), removeEntries: String(how.removeEntries) },
    });
  }

  /** Host or co-host: let a waiting join request in, or turn it away. */
  decideJoin(roomId: string, token: string, memberId: string, approve: boolean): Promise<RoomView> {
    return this.write('POST', `/v1/rooms/${enc(roomId)}/join-requests/${enc(memberId)}`, {
      token,
      body: { approve },
    });
  }

  addTrack(
    roomId: string,
    token: string,
    trackId: string,
  ): Promise<{ entry: QueueItemView | null; started: boolean; version: number }> {
    return this.write('POST', `/v1/rooms/${enc(roomId)}/queue`, { token, body: { trackId } });
  }

  removeEntry(roomId: string, token: string, entryId: string): Promise<{ entryId: string; version: number }> {
    return this.write('DELETE', `/v1/rooms/${enc(roomId)}/queue/${enc(entryId)}`, { token });
  }

  vote(roomId: string, token: string, entryId: string, value: Vote): Promise<VoteAnswer> {
    return this.write('PUT', `/v1/rooms/${enc(roomId)}/queue/${enc(entryId)}/vote`, {
      token,
      body: { value },
    });
  }

  /** Host: skip `expectedEntryId` (only if it still plays), or start playback when idle (null). */
  advance(
    roomId: string,
    token: string,
    expectedEntryId: string | null,
  ): Promise<{ advanced: boolean; room: RoomView }> {
    return this.write('POST', `/v1/rooms/${enc(roomId)}/advance`, { token, body: { expectedEntryId } });
  }

  /** Host: pause (true) or resume (false) the playing track. */
  setPaused(roomId: string, token: string, paused: boolean): Promise<RoomView> {
    return this.write('POST', `/v1/rooms/${enc(roomId)}/${paused ? 'pause' : 'resume'}`, { token, body: {} });
  }

  /** This device played `entryId` to its end; the room advances once, whoever reports it. */
  reportEnded(
    roomId: string,
    token: string,
    entryId: string,
  ): Promise<{ advanced: boolean; room: RoomView }> {
    return this.write('POST', `/v1/rooms/${enc(roomId)}/ended`, { token, body: { entryId } });
  }

  setLocked(roomId: string, token: string, locked: boolean): Promise<RoomView> {
    return this.write('PUT', `/v1/rooms/${enc(roomId)}/lock`, { token, body: { locked } });
  }

  updateSettings(roomId: string, token: string, patch: SettingsChange): Promise<RoomView> {
    return this.write('PATCH', `/v1/rooms/${enc(roomId)}/settings`, { token, body: patch });
  }

  // ---- Plumbing -------------------------------------------------------------------------------

  /** A write, retried with the same Idempotency-Key while the failure may be transient. */
  private async write<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const key = idempotencyKey();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request<T>(method, path, options, key);
      } catch (err) {
        if (!(err instanceof ApiError) || !err.retryable || attempt >= 2) throw err;
        await sleep(400 * 3 ** attempt);
      }
    }
  }

  private async request<T>(method: string, path: string, options: RequestOptions, key?: string): Promise<T> {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    if (key) headers['idempotency-key'] = key;
    if (options.body !== undefined) headers['content-type'] = 'application/json';

    const sentAt = Date.now();
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        cache: 'no-store',
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw new ApiError('UNAVAILABLE', 'network error', 0);
    }
    const receivedAt = Date.now();
    this.clock.sampleDateHeader(response.headers.get('date'), sentAt, receivedAt);

    const text = await response.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // A proxy's HTML error page, say: reported below by status.
    }
    if (!response.ok) {
      const error = (
        json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } }
      )?.error;
      throw new ApiError(
        error?.code ?? (response.status >= 500 ? 'UNAVAILABLE' : 'UNKNOWN'),
        error?.message ?? `the server answered ${response.status} ${response.statusText}`,
        response.status,
        error?.details ?? {},
      );
    }
    this.sampleRoom(json, sentAt, receivedAt);
    return json as T;
  }

  /** A room in an answer tells the server's time to the millisecond while a track is mid-play. */
  private sampleRoom(json: unknown, sentAt: number, receivedAt: number): void {
    const candidate = json as { room?: RoomView; nowPlaying?: RoomView['nowPlaying'] } | null;
    const np = candidate?.nowPlaying ?? candidate?.room?.nowPlaying;
    // A paused track's position is frozen: it says nothing about the time. A track of unknown length
    // (remainingMs null) is mid-play for as long as it plays.
    if (np && !np.paused && np.positionMs > 0 && (np.remainingMs === null || np.remainingMs > 0)) {
      this.clock.sample(np.startedAt + np.positionMs, sentAt, receivedAt);
    }
  }
}

const enc = encodeURIComponent;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A random key; crypto.randomUUID needs a secure context, which a LAN address over http is not. */
function idempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `w-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
