// Model-based test: the state machine against a deliberately naive reference written here from the
// rules (docs/architecture.md section 2): a mutable room that keeps entries unordered and sorts them in full
// whenever it needs the order. After every command of random sequences, both must agree on the
// answer (ok, or which error), the queue order, what is playing, the history and the version.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { apply, type Envelope, type ErrorCode, type RoomState } from '../../../src/domain/index.ts';
import { envelopesArb, fcParams } from './arbitraries.ts';

// ---- The reference -----------------------------------------------------------------------------

interface Settings {
  public: boolean;
  maxQueueLength: number;
  maxEntriesPerMember: number;
  maxTrackDurationMs: number;
  voteOffThreshold: number;
  skipVotes: number;
  replayProtectionMinutes: number;
  historyRetention: number;
  autoplay: boolean;
  // Presence and join control. These sequences have no presence reports, so the share never
  // raises a threshold here (presence.test.ts checks it), and their joins stay within the rate.
  skipShare: number;
  joinPolicy: string;
  maxMembers: number;
  joinsPerMinute: number;
}

const DEFAULTS: Settings = {
  public: true,
  maxQueueLength: 500,
  maxEntriesPerMember: 10,
  maxTrackDurationMs: 1_200_000,
  voteOffThreshold: 5,
  skipVotes: 3,
  replayProtectionMinutes: 0,
  historyRetention: 1000,
  autoplay: true,
  skipShare: 0.5,
  joinPolicy: 'open',
  maxMembers: 0,
  joinsPerMinute: 0,
};

const BOUNDS: Record<string, [number, number]> = {
  maxQueueLength: [1, 1_000_000],
  maxEntriesPerMember: [0, 1_000_000],
  maxTrackDurationMs: [1000, 86_400_000],
  voteOffThreshold: [0, 1_000_000],
  skipVotes: [0, 1_000_000],
  replayProtectionMinutes: [0, 10_080],
  historyRetention: [1, 100_000],
  maxMembers: [0, 1_000_000],
  joinsPerMinute: [0, 100_000],
};

interface Entry {
  entryId: string;
  trackId: string;
  durationMs: number;
  addedBy: string;
  seq: number;
  votes: Map<string, 1 | -1>;
  /** A net anonymous score set by a queue replacement (the legacy /sync). */
  base: number;
}

interface Play {
  playNo: number;
  entryId: string;
  trackId: string;
  startedAt: number;
  endedAt: number;
  reason: 'finished' | 'skipped' | 'votedOff';
  ups: number;
  downs: number;
}

type Outcome = { ok: true; changed: boolean } | { ok: false; code: ErrorCode };

const isId = (x: unknown): x is string => typeof x === 'string' && /^[A-Za-z0-9_.:~-]{1,128}$/.test(x);
const isText = (x: unknown, max: number, allowEmpty = false): x is string =>
  // eslint-disable-next-line no-control-regex
  typeof x === 'string' && (allowEmpty || x.trim() !== '') && x.length <= max && !/[\x00-\x1f\x7f]/.test(x);
const isInt = (x: unknown, min: number, max: number): x is number =>
  Number.isInteger(x) && (x as number) >= min && (x as number) <= max;
const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);
const ups = (e: Entry): number => [...e.votes.values()].filter((v) => v === 1).length + Math.max(e.base, 0);
const downs = (e: Entry): number =>
  [...e.votes.values()].filter((v) => v === -1).length + Math.max(-e.base, 0);
const score = (e: Entry): number => ups(e) - downs(e);

class NaiveRoom {
  exists = false;
  settings: Settings = { ...DEFAULTS };
  locked = false;
  members = new Map<string, boolean>(); // memberId -> isHost
  entries: Entry[] = [];
  playing: { entry: Entry; startedAt: number; pausedAt: number | null } | null = null;
  history: Play[] = [];
  nextSeq = 1;
  playCount = 0;
  version = 0;
  /** commandId -> the kind of command it changed the room with (an anonymous vote is a vote). */
  changedBy = new Map<string, unknown>();

  ordered(): Entry[] {
    return [...this.entries].sort((a, b) => score(b) - score(a) || a.seq - b.seq);
  }

  apply(env: Envelope): Outcome {
    const raw = env.command as unknown;
    if (!isId(env.commandId) || !isInt(env.at, 0, Number.MAX_SAFE_INTEGER) || !isObject(raw))
      return err('INVALID_ARGUMENT');
    if (env.actor !== null && !isId(env.actor)) return err('INVALID_ARGUMENT');
    const kind = raw['type'] === 'anonymousVote' ? 'vote' : raw['type'];
    if (this.exists && this.changedBy.has(env.commandId)) {
      // A retry is answered from memory; the same id on another kind of command is refused.
      return this.changedBy.get(env.commandId) === kind
        ? { ok: true, changed: false }
        : err('INVALID_ARGUMENT');
    }
    const out = this.exists
      ? this.dispatch(env, raw)
      : raw['type'] === 'createRoom'
        ? this.create(env, raw)
        : err('NOT_FOUND');
    if (out === 'changed') {
      this.version++;
      this.changedBy.set(env.commandId, kind);
      return { ok: true, changed: true };
    }
    return out === 'same' ? { ok: true, changed: false } : out;
  }

  private create(env: Envelope, c: Record<string, unknown>): Outcome | 'changed' {
    if (env.actor === null || !isText(c['name'], 80) || !isText(c['hostName'], 80))
      return err('INVALID_ARGUMENT');
    const settings = patched(DEFAULTS, c['settings'] ?? {});
    if (!settings) return err('INVALID_ARGUMENT');
    this.exists = true;
    this.settings = settings;
    this.members.set(env.actor, true);
    return 'changed';
  }

  private dispatch(env: Envelope, c: Record<string, unknown>): Outcome | 'changed' | 'same' {
    const at = env.at;
    const actor = env.actor;
    const member = (): ErrorCode | null =>
      actor === null ? 'UNAUTHENTICATED' : this.members.has(actor) ? null : 'PERMISSION_DENIED';
    const host = (): ErrorCode | null => member() ?? (this.members.get(actor!) ? null : 'PERMISSION_DENIED');
    const isHost = actor !== null && this.members.get(actor) === true;

    switch (c['type']) {
      case 'createRoom':
        return err('ALREADY_EXISTS');
      case 'join': {
        if (!isId(c['memberId']) || !isText(c['name'], 80)) return err('INVALID_ARGUMENT');
        if (this.members.has(c['memberId'])) return err('ALREADY_EXISTS');
        this.members.set(c['memberId'], false);
        return 'changed';
      }
      case 'addTrack': {
        const denied = member();
        if (denied) return err(denied);
        const t = c['track'];
        if (!isId(c['entryId']) || !validTrack(t)) return err('INVALID_ARGUMENT');
        if (this.locked && !isHost) return err('FAILED_PRECONDITION');
        if (t['durationMs'] > this.settings.maxTrackDurationMs) return err('FAILED_PRECONDITION');
        const all = this.playing ? [this.playing.entry, ...this.entries] : this.entries;
        if (all.some((e) => e.trackId === t['trackId'] || e.entryId === c['entryId']))
          return err('ALREADY_EXISTS');
        if (this.entries.length >= this.settings.maxQueueLength) return err('FAILED_PRECONDITION');
        const mine = this.entries.filter((e) => e.addedBy === actor).length;
        if (!isHost && this.settings.maxEntriesPerMember > 0 && mine >= this.settings.maxEntriesPerMember) {
          return err('FAILED_PRECONDITION');
        }
        const window = this.settings.replayProtectionMinutes * 60_000;
        if (window > 0 && this.history.some((h) => h.trackId === t['trackId'] && h.endedAt > at - window)) {
          return err('FAILED_PRECONDITION');
        }
        this.entries.push({
          entryId: c['entryId'],
          trackId: t['trackId'],
          durationMs: t['durationMs'],
          addedBy: actor!,
          seq: this.nextSeq++,
          votes: new Map(),
          base: 0,
        });
        if (this.settings.autoplay) this.startIfIdle(at);
        return 'changed';
      }
      case 'removeEntry': {
        const denied = member();
        if (denied) return err(denied);
        if (!isId(c['entryId'])) return err('INVALID_ARGUMENT');
        const entry = this.entries.find((e) => e.entryId === c['entryId']);
        if (!entry)
          return err(this.playing?.entry.entryId === c['entryId'] ? 'FAILED_PRECONDITION' : 'NOT_FOUND');
        if (entry.addedBy !== actor && !isHost) return err('PERMISSION_DENIED');
        if (this.locked && !isHost) return err('FAILED_PRECONDITION');
        this.entries = this.entries.filter((e) => e !== entry);
        return 'changed';
      }
      case 'vote':
      case 'anonymousVote': {
        const anonymous = c['type'] === 'anonymousVote';
        const denied = anonymous ? host() : member();
        if (denied) return err(denied);
        if (!isId(c['entryId'])) return err('INVALID_ARGUMENT');
        const value = c['value'];
        if (value !== 1 && value !== -1 && (anonymous || value !== 0)) return err('INVALID_ARGUMENT');
        return this.castVote(c['entryId'], anonymous ? `~anon:${env.commandId}` : actor!, value, at);
      }
      case 'replaceQueue': {
        const denied = host();
        if (denied) return err(denied);
        const given = c['entries'];
        if (!Array.isArray(given)) return err('INVALID_ARGUMENT');
        const seenEntries = new Set(this.playing ? [this.playing.entry.entryId] : []);
        const seenTracks = new Set(this.playing ? [this.playing.entry.trackId] : []);
        const next: Entry[] = [];
        let seq = this.nextSeq;
        for (const g of given as unknown[]) {
          if (!isObject(g) || !isId(g['entryId']) || !validTrack(g['track'])) return err('INVALID_ARGUMENT');
          const votes = g['votes'] ?? 0;
          if (!isInt(votes, -1_000_000_000, 1_000_000_000)) return err('INVALID_ARGUMENT');
          if (g['track']['durationMs'] > this.settings.maxTrackDurationMs) return err('FAILED_PRECONDITION');
          if (seenEntries.has(g['entryId'])) return err('ALREADY_EXISTS');
          seenEntries.add(g['entryId']);
          if (seenTracks.has(g['track']['trackId'])) continue;
          seenTracks.add(g['track']['trackId']);
          next.push({
            entryId: g['entryId'],
            trackId: g['track']['trackId'],
            durationMs: g['track']['durationMs'],
            addedBy: actor!,
            seq: seq++,
            votes: new Map(),
            base: votes,
          });
        }
        if (next.length > this.settings.maxQueueLength) return err('FAILED_PRECONDITION');
        if (next.length === 0 && this.entries.length === 0) return 'same';
        this.entries = next;
        this.nextSeq = seq;
        if (this.settings.autoplay) this.startIfIdle(at);
        return 'changed';
      }
      case 'advance': {
        const reason = c['reason'];
        if (reason !== 'finished' && reason !== 'skipped' && reason !== 'ended')
          return err('INVALID_ARGUMENT');
        const expected = c['expectedEntryId'];
        if (expected !== null && !isId(expected)) return err('INVALID_ARGUMENT');
        const denied = reason === 'skipped' ? host() : reason === 'ended' ? member() : null;
        if (denied) return err(denied);
        if ((this.playing?.entry.entryId ?? null) !== expected) return 'same';
        if (!this.playing) {
          if (this.entries.length === 0) return 'same';
          if (reason !== 'skipped' && !this.settings.autoplay) return err('FAILED_PRECONDITION');
          this.startIfIdle(at);
          return 'changed';
        }
        if (reason !== 'skipped') {
          // A paused track never runs out; a device's "ended" counts up to 5 s before the end.
          // A track of unknown length (0) never finishes by itself (a device may still say it ended).
          const length = this.playing.entry.durationMs;
          const end = this.playing.startedAt + length;
          if (this.playing.pausedAt !== null) return err('FAILED_PRECONDITION');
          if (reason === 'finished' && length === 0) return err('FAILED_PRECONDITION');
          if (at < end - (reason === 'ended' ? 5000 : 0)) return err('FAILED_PRECONDITION');
        }
        this.end(reason === 'skipped' ? 'skipped' : 'finished', at, reason !== 'finished');
        if (reason === 'skipped' || this.settings.autoplay) this.startIfIdle(at);
        return 'changed';
      }
      case 'updateSettings': {
        const denied = host();
        if (denied) return err(denied);
        const next = patched(this.settings, c['patch']);
        if (!next) return err('INVALID_ARGUMENT');
        if ((Object.keys(next) as (keyof Settings)[]).every((k) => next[k] === this.settings[k]))
          return 'same';
        this.settings = next;
        this.history = this.history.slice(-next.historyRetention);
        if (next.autoplay) this.startIfIdle(at);
        return 'changed';
      }
      case 'setLocked': {
        const denied = host();
        if (denied) return err(denied);
        if (typeof c['locked'] !== 'boolean') return err('INVALID_ARGUMENT');
        if (c['locked'] === this.locked) return 'same';
        this.locked = c['locked'];
        return 'changed';
      }
      case 'pause':
      case 'resume': {
        const denied = host();
        if (denied) return err(denied);
        const p = this.playing;
        if (!p) return err('FAILED_PRECONDITION');
        if ((p.pausedAt !== null) === (c['type'] === 'pause')) return 'same';
        if (p.pausedAt === null) {
          p.pausedAt = Math.min(at, p.startedAt + p.entry.durationMs);
        } else {
          p.startedAt += Math.max(0, at - p.pausedAt);
          p.pausedAt = null;
        }
        return 'changed';
      }
      case 'clear': {
        const denied = host();
        if (denied) return err(denied);
        if (this.entries.length === 0 && !this.playing && this.history.length === 0) return 'same';
        this.entries = [];
        this.playing = null;
        this.history = [];
        return 'changed';
      }
      default:
        return err('INVALID_ARGUMENT');
    }
  }

  private castVote(
    entryId: string,
    voter: string,
    value: 1 | -1 | 0,
    at: number,
  ): Outcome | 'changed' | 'same' {
    const isPlaying = this.playing?.entry.entryId === entryId;
    const entry = isPlaying ? this.playing!.entry : this.entries.find((e) => e.entryId === entryId);
    if (!entry) return err('NOT_FOUND');
    if ((entry.votes.get(voter) ?? 0) === value) return 'same';
    if (value === 0) entry.votes.delete(voter);
    else entry.votes.set(voter, value);
    if (isPlaying) {
      if (value === -1 && this.settings.skipVotes > 0 && downs(entry) >= this.settings.skipVotes) {
        this.end('votedOff', at, true);
        if (this.settings.autoplay) this.startIfIdle(at);
      }
    } else if (this.settings.voteOffThreshold > 0 && score(entry) <= -this.settings.voteOffThreshold) {
      this.entries = this.entries.filter((e) => e !== entry);
    }
    return 'changed';
  }

  private startIfIdle(at: number): void {
    const head = this.ordered()[0];
    if (this.playing || !head) return;
    this.entries = this.entries.filter((e) => e !== head);
    this.playing = { entry: head, startedAt: at, pausedAt: null };
  }

  /** stoppedNow: it stopped at `at` (or its pause); otherwise it ran out on schedule. */
  private end(reason: Play['reason'], at: number, stoppedNow: boolean): void {
    const { entry, startedAt, pausedAt } = this.playing!;
    const stoppedAt = pausedAt ?? at;
    const scheduled = entry.durationMs === 0 ? stoppedAt : startedAt + entry.durationMs;
    this.history.push({
      playNo: ++this.playCount,
      entryId: entry.entryId,
      trackId: entry.trackId,
      startedAt,
      // Never before it started (a pause stamped earlier than the start, by a clock behind).
      endedAt: Math.max(startedAt, stoppedNow ? Math.min(stoppedAt, scheduled) : scheduled),
      reason,
      ups: ups(entry),
      downs: downs(entry),
    });
    this.history = this.history.slice(-this.settings.historyRetention);
    this.playing = null;
  }
}

function err(code: ErrorCode): Outcome {
  return { ok: false, code };
}

function validTrack(t: unknown): t is { trackId: string; durationMs: number } {
  return (
    isObject(t) &&
    isText(t['trackId'], 300) &&
    isText(t['title'], 300) &&
    isText(t['artist'], 300) &&
    isText(t['album'], 300, true) &&
    isInt(t['durationMs'], 0, 86_400_000)
  );
}

function patched(base: Settings, patch: unknown): Settings | null {
  if (!isObject(patch)) return null;
  const next: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const bounds = Object.hasOwn(BOUNDS, key) ? BOUNDS[key] : undefined;
    const isFlag = key === 'public' || key === 'autoplay';
    const isShare = key === 'skipShare';
    const isPolicy = key === 'joinPolicy';
    if (bounds && !isInt(value, bounds[0], bounds[1])) return null;
    if (isFlag && typeof value !== 'boolean') return null;
    if (isShare && !(typeof value === 'number' && value >= 0 && value <= 1)) return null;
    // 'passcode' needs a passcode, which these sequences never set.
    if (isPolicy && value !== 'open' && value !== 'approval') return null;
    if (!bounds && !isFlag && !isShare && !isPolicy) return null;
    next[key] = value;
  }
  return next as unknown as Settings;
}

// ---- The comparison ----------------------------------------------------------------------------

function observe(s: RoomState | null) {
  if (!s) return null;
  return {
    queue: s.queue.map((e) => [e.entryId, e.ups, e.downs]),
    playing: s.nowPlaying
      ? [s.nowPlaying.entry.entryId, s.nowPlaying.startedAt, s.nowPlaying.pausedAt ?? null]
      : null,
    history: s.history.map((h) => [
      h.playNo,
      h.entryId,
      h.track.trackId,
      h.startedAt,
      h.endedAt,
      h.reason,
      h.ups,
      h.downs,
    ]),
    version: s.version,
    locked: s.locked,
    settings: { ...s.settings },
    members: s.members.ids().sort(),
  };
}

function observeModel(m: NaiveRoom) {
  if (!m.exists) return null;
  return {
    queue: m.ordered().map((e) => [e.entryId, ups(e), downs(e)]),
    playing: m.playing ? [m.playing.entry.entryId, m.playing.startedAt, m.playing.pausedAt] : null,
    history: m.history.map((h) => [
      h.playNo,
      h.entryId,
      h.trackId,
      h.startedAt,
      h.endedAt,
      h.reason,
      h.ups,
      h.downs,
    ]),
    version: m.version,
    locked: m.locked,
    settings: { ...m.settings },
    members: [...m.members.keys()].sort(),
  };
}

void test('the state machine agrees with a naive reference after every command', () => {
  fc.assert(
    fc.property(envelopesArb(), (envelopes) => {
      const model = new NaiveRoom();
      let state: RoomState | null = null;
      envelopes.forEach((env, i) => {
        const out = apply(state, env);
        const expected = model.apply(env);
        const actual: Outcome = out.result.ok
          ? { ok: true, changed: out.events.length > 0 }
          : { ok: false, code: out.result.error.code };
        const where = `step ${i}: ${JSON.stringify(env.command)} by ${env.actor}`;
        assert.deepEqual(
          actual,
          expected,
          `${where}: answer (${out.result.ok ? 'ok' : out.result.error.message})`,
        );
        assert.deepEqual(observe(out.state), observeModel(model), `${where}: room`);
        state = out.state;
      });
    }),
    fcParams(300),
  );
});
