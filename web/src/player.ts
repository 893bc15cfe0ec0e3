// The room's sound on this device ("Play here"): an <audio> element kept on the server's timeline.
//
// The server owns time. The track should be at `serverNow - startedAt` (frozen at `pausedAt -
// startedAt` while the host has it paused), with serverNow from the page's measured offset to the
// server clock. Every TICK_MS the player compares the element's currentTime with that target and
// corrects: a jump when it is far off (a join, a skip, a stall), else a small playback-rate nudge
// that closes the gap within a couple of seconds without an audible skip. A new track is loaded,
// placed at the timeline's position, and started once the element holds data there (a play()
// before that leaves it waiting, not paused, while the timeline runs away: a first seek into a
// file can take a quarter of a second). Each placement is made ahead by what placing cost last time
// on this device (kept for its next visit), measured once the element has played a moment (its
// sound starts ~0.1 s after "playing"). When the element plays the file to its end the device
// reports "ended" once per entry (the server advances once, whoever reports). Browsers may refuse
// to start sound without a tap: that is shown (`blocked`) with a button, never swallowed.
//
// No DOM beyond the element it is given, and no Preact: the component renders what `state` says.

import type { AudioLeads } from './identity.ts';
import type { PlayingModel } from './model.ts';
import { timelineMs } from './model.ts';

export interface PlayerDeps {
  /** The server's time now (ms since the epoch), as the page estimates it. */
  readonly serverNow: () => number;
  /** How far off serverNow may be, ms. */
  readonly clockErrorMs: () => number;
  /** Asks the server for the room again (its answer re-measures the clock). */
  readonly resync: () => void;
  /** This device played the entry to its end. */
  readonly reportEnded: (entryId: string) => void;
  /**
   * The leads this device learnt on an earlier visit (its first start then lands on time), and
   * where to keep what it learns.
   */
  readonly leads?: { readonly initial: AudioLeads | null; readonly save: (leads: AudioLeads) => void };
}

export type PlayerStatus =
  | 'off'
  | 'idle' // nothing plays in the room
  | 'noAudio' // the playing track has no audio (demo catalog, supplied metadata)
  | 'loading'
  | 'playing'
  | 'paused' // the host paused it
  | 'blocked' // the browser refused to start sound without a tap
  | 'error'; // the file could not be played (e.g. this node lacks it)

export interface PlayerState {
  readonly status: PlayerStatus;
  /** Last measured gap between the element and the timeline, ms (positive: the element is ahead). */
  readonly driftMs: number | null;
}

const TICK_MS = 200;
/** Farther off than this: jump. Nearer: nudge the rate. */
const SEEK_BEYOND_MS = 200;
/** Within this the element is left alone (rates snap back to 1). */
const STEADY_WITHIN_MS = 25;
/** The largest rate change of a nudge (the pitch is kept): closes 100 ms in about a second. */
const MAX_NUDGE = 0.1;
/** The share of the gap a nudge aims to close in one second. */
const NUDGE_GAIN = 1;
/** A seek lands late by the time the element takes to restart; the lead learnt stays below this. */
const MAX_SEEK_LEAD_MS = 400;
const clampLead = (ms: number): number => Math.max(0, Math.min(MAX_SEEK_LEAD_MS, ms));
/** A placement's landing is measured this long after it, unnudged meanwhile (the sound starts late). */
const LANDING_MS = 300;
/** A new file is started once it has data at its place, or after this long without (slow networks). */
const MAX_DATA_WAIT_MS = 1000;
/** A clock estimate worse than this is refined by reading the room (at most every RESYNC_EVERY_MS). */
const CLOCK_GOOD_ENOUGH_MS = 20;
const RESYNC_EVERY_MS = 1000;

export class Player {
  private readonly deps: PlayerDeps;
  private audio: HTMLAudioElement | null = null;
  private enabled = false;
  private track: PlayingModel | null = null;
  /** The entry whose file the element holds. */
  private loadedEntry: string | null = null;
  private loadedUrl: string | null = null;
  private reported = new Set<string>();
  private blocked = false;
  private failed = false;
  private starting = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastResync = 0;
  /**
   * How far ahead of the timeline to place the element, learnt from how late the last placements
   * landed: a seek while playing (the decoder refills) and a start (play() takes a moment) differ.
   */
  private readonly leadMs: { seek: number; start: number };
  /** A placement was made: the first measurement from `after` on tells how late it landed. */
  private measuring: { readonly kind: 'seek' | 'start'; readonly after: number } | null = null;
  /** When the paused element was placed to wait for data before its start (null: not waiting). */
  private placedAt: number | null = null;
  private state: PlayerState = { status: 'off', driftMs: null };
  private listeners = new Set<() => void>();

  constructor(deps: PlayerDeps) {
    this.deps = deps;
    const kept = deps.leads?.initial;
    this.leadMs = { seek: clampLead(kept?.seek ?? 0), start: clampLead(kept?.start ?? 0) };
  }

  getState = (): PlayerState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Gives the player its element (null when the component unmounts). */
  attach(audio: HTMLAudioElement | null): void {
    if (audio === this.audio) return;
    this.detach();
    this.audio = audio;
    if (!audio) return;
    audio.preload = 'auto';
    audio.addEventListener('ended', this.onEnded);
    audio.addEventListener('loadedmetadata', this.onLoaded);
    audio.addEventListener('canplay', this.onCanPlay);
    audio.addEventListener('error', this.onError);
    this.timer = setInterval(() => this.sync(), TICK_MS);
    this.sync();
  }

  private detach(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const audio = this.audio;
    if (!audio) return;
    audio.removeEventListener('ended', this.onEnded);
    audio.removeEventListener('loadedmetadata', this.onLoaded);
    audio.removeEventListener('canplay', this.onCanPlay);
    audio.removeEventListener('error', this.onError);
    audio.pause();
    audio.removeAttribute('src');
    audio.load();
    this.audio = null;
    this.loadedEntry = null;
    this.loadedUrl = null;
  }

  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    if (!enabled) this.blocked = false;
    this.sync();
  }

  /** The room's playing track changed (or its timeline did: a pause, a resume). */
  update(track: PlayingModel | null): void {
    this.track = track;
    this.sync();
  }

  /** The person tapped "Start sound": a play() inside their gesture, which browsers allow. */
  unblock(): void {
    const audio = this.audio;
    if (!audio) return;
    this.blocked = false;
    this.failed = false;
    this.start(audio);
  }

  /** One comparison with the timeline, and the correction it calls for. */
  sync(): void {
    const audio = this.audio;
    const np = this.track;
    if (!audio || !this.enabled) {
      audio?.pause();
      return this.publish('off', null);
    }
    if (!np) {
      this.unload(audio);
      return this.publish('idle', null);
    }
    const url = np.track.audioUrl;
    if (url === undefined) {
      this.unload(audio);
      return this.publish('noAudio', null);
    }
    if (this.loadedEntry !== np.entryId || this.loadedUrl !== url) {
      // A new track: load it; onLoaded places it on the timeline and starts it.
      this.failed = false;
      this.loadedEntry = np.entryId;
      this.loadedUrl = url;
      this.placedAt = null;
      audio.playbackRate = 1;
      audio.src = url;
      audio.load();
      return this.publish('loading', null);
    }
    if (this.failed) return this.publish('error', null);
    if (audio.readyState < HTMLMediaElement.HAVE_METADATA) return this.publish('loading', null);
    this.refineClock();

    const targetS = timelineMs(np, this.deps.serverNow()) / 1000;
    const beyondEnd = Number.isFinite(audio.duration) && targetS >= audio.duration;
    if (np.pausedAt !== null || beyondEnd) {
      if (!audio.paused) audio.pause();
      audio.playbackRate = 1;
      // Hold the frozen position, so resume starts from it at once.
      const gap = audio.currentTime - targetS;
      if (!beyondEnd && Math.abs(gap) * 1000 > STEADY_WITHIN_MS && !audio.seeking)
        audio.currentTime = targetS;
      if (beyondEnd) this.report(np.entryId);
      return this.publish(beyondEnd ? 'playing' : 'paused', null);
    }
    if (this.blocked) return this.publish('blocked', null);
    if (audio.paused && !audio.ended) {
      if (this.waitForData(audio, targetS)) return this.publish('loading', null);
      this.seekTo(audio, targetS);
      this.start(audio);
      return this.publish('loading', null);
    }
    if (audio.seeking) return this.publish('playing', this.state.driftMs);

    const driftMs = (audio.currentTime - targetS) * 1000;
    const landing = this.measuring !== null && Date.now() < this.measuring.after;
    if (this.measuring !== null && !landing) {
      // Behind by d after a placement: place d further ahead next time (ahead: that much less).
      const { kind } = this.measuring;
      this.measuring = null;
      this.leadMs[kind] = clampLead(this.leadMs[kind] - driftMs);
      this.deps.leads?.save({ ...this.leadMs });
    }
    if (Math.abs(driftMs) > SEEK_BEYOND_MS) {
      this.seekTo(audio, targetS);
    } else if (landing) {
      audio.playbackRate = 1;
    } else if (Math.abs(driftMs) > STEADY_WITHIN_MS) {
      // Ahead: slow down a little; behind: speed up a little.
      const nudge = Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, (-driftMs / 1000) * NUDGE_GAIN));
      audio.playbackRate = 1 + nudge;
    } else {
      audio.playbackRate = 1;
    }
    this.publish('playing', Math.round(driftMs));
  }

  /** Places the element at the timeline's position, ahead by what placing it usually costs. */
  private seekTo(audio: HTMLAudioElement, targetS: number): void {
    const kind = audio.paused ? 'start' : 'seek';
    audio.playbackRate = 1;
    audio.currentTime = targetS + this.leadMs[kind] / 1000;
    this.measuring = { kind, after: Date.now() + LANDING_MS };
  }

  /**
   * Whether a paused element should wait before its start: until it holds data at the timeline's
   * position (it is placed there first), at most MAX_DATA_WAIT_MS (a browser may not preload).
   */
  private waitForData(audio: HTMLAudioElement, targetS: number): boolean {
    if (audio.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA && !audio.seeking) return false;
    const now = Date.now();
    if (this.placedAt === null) {
      this.placedAt = now;
      audio.currentTime = targetS;
    }
    return now - this.placedAt < MAX_DATA_WAIT_MS;
  }

  private start(audio: HTMLAudioElement): void {
    if (this.starting) return;
    this.starting = true;
    this.placedAt = null;
    audio
      .play()
      .then(() => {
        this.blocked = false;
      })
      .catch((err: unknown) => {
        // NotAllowedError: no sound before a tap. AbortError: a newer load() interrupted it.
        if (err instanceof DOMException && err.name === 'NotAllowedError') this.blocked = true;
      })
      .finally(() => {
        this.starting = false;
        this.sync();
      });
  }

  private unload(audio: HTMLAudioElement): void {
    if (this.loadedEntry === null) return;
    audio.pause();
    audio.removeAttribute('src');
    audio.load();
    this.loadedEntry = null;
    this.loadedUrl = null;
    this.placedAt = null;
  }

  /** A precise clock matters for sound: a room answer measures it to half a round trip. */
  private refineClock(): void {
    const now = Date.now();
    if (this.deps.clockErrorMs() <= CLOCK_GOOD_ENOUGH_MS || now - this.lastResync < RESYNC_EVERY_MS) return;
    this.lastResync = now;
    this.deps.resync();
  }

  private report(entryId: string): void {
    if (this.reported.has(entryId)) return;
    this.reported.add(entryId);
    this.deps.reportEnded(entryId);
  }

  private onLoaded = (): void => {
    const audio = this.audio;
    const np = this.track;
    if (!audio || !np || np.entryId !== this.loadedEntry) return;
    const targetS = timelineMs(np, this.deps.serverNow()) / 1000;
    if (np.pausedAt !== null || this.blocked) audio.currentTime = targetS;
    this.sync();
  };

  /** A waiting element has data at its place: start it now rather than at the next tick. */
  private onCanPlay = (): void => {
    if (this.audio?.paused) this.sync();
  };

  private onEnded = (): void => {
    if (this.loadedEntry !== null && this.track?.entryId === this.loadedEntry) this.report(this.loadedEntry);
    this.sync();
  };

  private onError = (): void => {
    if (!this.audio?.getAttribute('src')) return;
    this.failed = true;
    this.sync();
  };

  private publish(status: PlayerStatus, driftMs: number | null): void {
    if (status === this.state.status && driftMs === this.state.driftMs) return;
    this.state = { status, driftMs };
    for (const l of this.listeners) l();
  }

  dispose(): void {
    this.detach();
    this.listeners.clear();
  }
}
