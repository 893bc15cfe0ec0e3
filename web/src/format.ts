// Times and words as the page shows them.

import type { EndReason } from '../../src/domain/types.ts';

/** 3:07, or 1:02:03 for an hour or more. */
export function duration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A duration in words for screen readers: "3 minutes 7 seconds". */
export function spokenDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  const parts = [];
  if (m > 0) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (s > 0 || m === 0) parts.push(`${s} second${s === 1 ? '' : 's'}`);
  return parts.join(' ');
}

/** A track's length: as duration(), or "—" when it is not known (durationMs 0). */
export function trackLength(ms: number): string {
  return ms === 0 ? UNKNOWN : duration(ms);
}

/** What the page shows for a time nobody knows (behind a track of unknown length). */
export const UNKNOWN = '—';

/**
 * When a queued track should start: "next" (only for the first in line), "in 4 min", "in 1 h 20
 * min", or "—" when unknown. Behind a track about to end, the second one is "in 1 min", not "next".
 */
export function eta(ms: number | null, first = true): string {
  if (ms === null) return UNKNOWN;
  if (ms < 30_000 && first) return 'next';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `in ${Math.max(1, minutes)} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `in ${h} h` : `in ${h} h ${m} min`;
}

export function endReason(reason: EndReason): string {
  switch (reason) {
    case 'finished':
      return 'Played to the end';
    case 'skipped':
      return 'Skipped by the host';
    case 'votedOff':
      return 'Voted off';
  }
}

/** "5 min ago", "2 h ago", or a date for older plays. */
export function ago(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
