// Who I am in each room: the member id and bearer token from creating or joining it, kept in
// localStorage per room so that a reload, a new tab or tomorrow's visit is still me. The display
// name is remembered on its own to prefill the next join form.

export interface Identity {
  readonly memberId: string;
  readonly token: string;
  readonly name: string;
  /** The room version my join produced: reads ask for at least it (another node may lag). */
  readonly version?: number;
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
