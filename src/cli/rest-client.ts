// A small typed client of the REST API v1, used by the CLI (and handy in tests and benchmarks).
// Error bodies become ChorusError with the server's code, message, details and reason.

import { isErrorCode, type ChorusError } from '../domain/errors.ts';
import type { RoomView, SettingsPatch, Track } from '../domain/index.ts';
import type { RoomListing } from '../store/types.ts';
import type { ChorusClient, Members, Recovered, Removed } from './api-client.ts';
import { cliError, received } from './errors.ts';

export interface JoinAccess {
  readonly invite?: string;
  readonly clientKey?: string;
  readonly passcode?: string;
}

export interface Joined {
  readonly room: RoomView;
  readonly memberId: string;
  readonly token: string;
  /** Creating a room: the host recovery key (shown once), and a private room's invite. */
  readonly recoveryKey?: string;
  readonly invite?: string;
  /** Joining: the join waits for the host's approval. */
  readonly pending?: boolean;
}

export interface ClientOptions {
  readonly server: string;
  readonly token?: string | undefined;
  readonly timeoutMs?: number;
}

export class RestClient implements ChorusClient {
  readonly server: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions) {
    this.server = options.server.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The Authorization header of this client's token (none without one): for the SSE stream. */
  authorization(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  withToken(token: string): RestClient {
    return new RestClient({ server: this.server, token, timeoutMs: this.timeoutMs });
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.server}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const reason =
        err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw cliError('SERVER_UNREACHABLE', { server: this.server, problem: reason });
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: reported below with the status.
    }
    if (!response.ok) {
      const failure = errorOfBody(parsed);
      if (failure) throw failure;
      if (response.status >= 500) {
        throw cliError('SERVER_UNREACHABLE', {
          server: this.server,
          problem: `HTTP ${response.status} from ${path}: ${text.slice(0, 200)}`,
        });
      }
      throw cliError('ANSWER_NOT_CHORUS', { status: response.status, path, body: text.slice(0, 200) });
    }
    return parsed as T;
  }

  listRooms(limit = 50): Promise<{ rooms: RoomListing[] }> {
    return this.request('GET', `/v1/rooms?limit=${limit}`);
  }

  createRoom(body: {
    name: string;
    hostName: string;
    roomId?: string;
    settings?: SettingsPatch;
    passcode?: string;
  }): Promise<Joined> {
    return this.request('POST', '/v1/rooms', body);
  }

  join(roomId: string, name: string, access: JoinAccess = {}): Promise<Joined> {
    return this.request('POST', `/v1/rooms/${encodeURIComponent(roomId)}/members`, { name, ...access });
  }

  room(
    roomId: string,
    query: { minVersion?: number; offset?: number; limit?: number; invite?: string } = {},
  ): Promise<RoomView> {
    return this.request('GET', `/v1/rooms/${encodeURIComponent(roomId)}${toQuery(query)}`);
  }

  add(roomId: string, input: { trackId: string } | { track: Track }, idempotencyKey?: string) {
    return this.request<{ entry: RoomView['queue'][number] | null; started: boolean; version: number }>(
      'POST',
      `/v1/rooms/${encodeURIComponent(roomId)}/queue`,
      input,
      idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
    );
  }

  remove(roomId: string, entryId: string) {
    return this.request<{ entryId: string; version: number }>(
      'DELETE',
      `/v1/rooms/${encodeURIComponent(roomId)}/queue/${encodeURIComponent(entryId)}`,
    );
  }

  vote(roomId: string, entryId: string, value: 1 | -1 | 0) {
    return this.request<{
      entryId: string;
      ups: number;
      downs: number;
      score: number;
      effect: string;
      position: number | null;
      version: number;
      myVote: 1 | -1 | 0;
    }>('PUT', `/v1/rooms/${encodeURIComponent(roomId)}/queue/${encodeURIComponent(entryId)}/vote`, { value });
  }

  advance(roomId: string, expectedEntryId?: string | null) {
    return this.request<{ advanced: boolean; room: RoomView }>(
      'POST',
      `/v1/rooms/${encodeURIComponent(roomId)}/advance`,
      expectedEntryId === undefined ? {} : { expectedEntryId },
    );
  }

  setPaused(roomId: string, paused: boolean) {
    return this.request<RoomView>(
      'POST',
      `/v1/rooms/${encodeURIComponent(roomId)}/${paused ? 'pause' : 'resume'}`,
      {},
    );
  }

  reportEnded(roomId: string, entryId: string) {
    return this.request<{ advanced: boolean; room: RoomView }>(
      'POST',
      `/v1/rooms/${encodeURIComponent(roomId)}/ended`,
      { entryId },
    );
  }

  history(roomId: string, query: { before?: number; limit?: number; invite?: string } = {}) {
    return this.request<{
      records: Array<{
        playNo: number;
        track: Track;
        addedBy: { memberId: string; name: string };
        reason: string;
        ups: number;
        downs: number;
        startedAt: number;
        endedAt: number;
      }>;
      nextBefore: number | null;
      version: number;
    }>('GET', `/v1/rooms/${encodeURIComponent(roomId)}/history${toQuery(query)}`);
  }

  search(q: string, limit = 20): Promise<{ tracks: Track[] }> {
    return this.request('GET', `/v1/catalog/search${toQuery({ q, limit })}`);
  }

  track(trackId: string): Promise<Track> {
    return this.request('GET', `/v1/catalog/tracks/${encodeURIComponent(trackId)}`);
  }

  members(roomId: string): Promise<Members> {
    return this.request('GET', `${roomPath(roomId)}/members`);
  }

  setRole(roomId: string, memberId: string, role: 'cohost' | 'member'): Promise<RoomView> {
    return this.request('PUT', `${roomPath(roomId)}/members/${encodeURIComponent(memberId)}/role`, { role });
  }

  handOver(roomId: string, memberId: string): Promise<RoomView> {
    return this.request('POST', `${roomPath(roomId)}/hand-over`, { memberId });
  }

  removeMember(
    roomId: string,
    memberId: string,
    how: { readonly ban: boolean; readonly removeEntries: boolean },
  ): Promise<Removed> {
    return this.request(
      'DELETE',
      `${roomPath(roomId)}/members/${encodeURIComponent(memberId)}${toQuery({
        ban: String(how.ban),
        removeEntries: String(how.removeEntries),
      })}`,
    );
  }

  recoverHost(roomId: string, recoveryKey: string): Promise<Recovered> {
    return this.request('POST', `${roomPath(roomId)}/recover`, { recoveryKey });
  }

  newRecoveryKey(roomId: string): Promise<{ recoveryKey: string; version: number }> {
    return this.request('POST', `${roomPath(roomId)}/recovery-key`, {});
  }

  newInvite(roomId: string): Promise<{ invite: string; version: number }> {
    return this.request('POST', `${roomPath(roomId)}/invite`, {});
  }

  decideJoin(roomId: string, memberId: string, approve: boolean): Promise<RoomView> {
    return this.request('POST', `${roomPath(roomId)}/join-requests/${encodeURIComponent(memberId)}`, {
      approve,
    });
  }

  updateSettings(roomId: string, patch: SettingsPatch, passcode?: string | null): Promise<RoomView> {
    return this.request('PATCH', `${roomPath(roomId)}/settings`, {
      ...patch,
      ...(passcode !== undefined ? { passcode } : {}),
    });
  }
}

function roomPath(roomId: string): string {
  return `/v1/rooms/${encodeURIComponent(roomId)}`;
}

/** A REST error body (`{error: {code, message, details}}`) as the ChorusError it stands for. */
export function errorOfBody(body: unknown): ChorusError | null {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
    ?.error;
  if (!error || !isErrorCode(error.code) || typeof error.message !== 'string') return null;
  const details =
    typeof error.details === 'object' && error.details !== null
      ? (error.details as Record<string, unknown>)
      : undefined;
  return received(error.code, error.message, details);
}

function toQuery(params: Record<string, string | number | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined);
  return entries.length === 0
    ? ''
    : `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
}
