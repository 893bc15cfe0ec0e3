// Words and times for people, shared by the `chorus` client commands and `chorus watch`. Pure: the
// current time is always passed in, and dates are shown in the local time zone of the process
// (TZ), never as raw UTC timestamps.

/** "1 member", "2 members", "0 tracks": `plural` defaults to the word plus "s". */
export function count(n: number, word: string, plural = `${word}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? word : plural}`;
}

/** m:ss for a track's length or position, or "—" when it is not known. */
export function mmss(ms: number | null): string {
  if (ms === null) return '—';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** A span of time in words: "45 s", "12 min", "2 h 49 min"; "—" when not known. */
export function span(ms: number | null): string {
  if (ms === null) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
}

/** When something starts: "now", "in 12 min", or "—" when not known. */
export function eta(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 1000 ? 'now' : `in ${span(ms)}`;
}

/** Local wall-clock time of day, 24-hour: "21:04" (with seconds: "21:04:05"). */
export function clock(at: number, seconds = false): string {
  const d = new Date(at);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}${seconds ? `:${two(d.getSeconds())}` : ''}`;
}

function localDay(at: number): string {
  const d = new Date(at);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/**
 * A past moment, local and relative: "21:04 (just now)", "21:04 (3 min ago)", "yesterday 21:04
 * (20 h ago)", "2026-11-30 21:04 (3 days ago)".
 */
export function when(at: number, now: number): string {
  const ago = now - at;
  const relative =
    ago < 60_000
      ? 'just now'
      : ago < 86_400_000
        ? `${span(ago)} ago`
        : `${count(Math.floor(ago / 86_400_000), 'day')} ago`;
  const day = localDay(at);
  const prefix = day === localDay(now) ? '' : day === localDay(now - 86_400_000) ? 'yesterday ' : `${day} `;
  return `${prefix}${clock(at)} (${relative})`;
}
