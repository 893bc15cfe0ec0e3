// Who I am in each room: the member id and bearer token from creating or joining it, kept in
// localStorage per room so that a reload, a new tab or tomorrow's visit is still me. The display
// name is remembered on its own to prefill the next join form, and one random client key per
// browser goes with every join (a ban keeps its hash, so the same browser cannot join again).

export interface Identity {
  readonly memberId: string;
  readonly token: string;
  readonly name: string;
  /** The room version my join produced: reads ask for at least it (another node may lag). */
  readonly version?: number;
  /** My join waits for the host's approval (joinPolicy approval): I am not a member yet. */
  readonly pending?: boolean;
}

const roomKey = (roomId: string): string => `chorus:room:${roomId}`;
const NAME_KEY = 'chorus:name';

// Storage can be unavailable (private modes, blocked cookies): the page then works for the visit.
const memory = new Map<string, string>();
function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return memory.get(key) ?? null;
  }
}
function write(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    if (value === null) memory.delete(key);
    else memory.set(key, value);
  }
}

export function loadIdentity(roomId: string): Identity | null {
  const raw = read(roomKey(roomId));
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as Partial<Identity>;
    if (typeof parsed.memberId === 'string' && typeof parsed.token === 'string') {
      return {
        memberId: parsed.memberId,
        token: parsed.token,
        name: String(parsed.name ?? ''),
        ...(typeof parsed.version === 'number' ? { version: parsed.version } : {}),
        ...(parsed.pending === true ? { pending: true } : {}),
      };
    }
  } catch {
    // A damaged entry is as good as none.
  }
  return null;
}

export function saveIdentity(roomId: string, identity: Identity): void {
  write(roomKey(roomId), JSON.stringify(identity));
  write(NAME_KEY, identity.name);
}

export function forgetIdentity(roomId: string): void {
  write(roomKey(roomId), null);
}

export function lastName(): string {
  return read(NAME_KEY) ?? '';
}

const PLAY_HERE_KEY = 'chorus:play-here';

/** Whether this device plays the room's sound ("Play here"), remembered for the next visit. */
export function loadPlayHere(): boolean {
  return read(PLAY_HERE_KEY) === '1';
}

export function savePlayHere(on: boolean): void {
  write(PLAY_HERE_KEY, on ? '1' : null);
}

const AUDIO_LEADS_KEY = 'chorus:audio-leads';

/** How far ahead this device places its audio to land on the timeline (ms), as the player learnt. */
export interface AudioLeads {
  readonly seek: number;
  readonly start: number;
}

/** The leads this device learnt on an earlier visit, or null (none, or unreadable). */
export function loadAudioLeads(): AudioLeads | null {
  try {
    const value = JSON.parse(read(AUDIO_LEADS_KEY) ?? 'null') as Partial<AudioLeads> | null;
    const { seek, start } = value ?? {};
    return Number.isFinite(seek) && Number.isFinite(start) ? { seek: seek!, start: start! } : null;
  } catch {
    return null;
  }
}

export function saveAudioLeads(leads: AudioLeads): void {
  write(AUDIO_LEADS_KEY, JSON.stringify({ seek: Math.round(leads.seek), start: Math.round(leads.start) }));
}

const CLIENT_KEY = 'chorus:client-key';

/** This browser's client key for joins: drawn once, then kept (a cleared browser draws a new one). */
export function clientKey(): string {
  const kept = read(CLIENT_KEY);
  if (kept && kept.length >= 16) return kept;
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  const key = `c-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  write(CLIENT_KEY, key);
  return key;
}
