// Cover art, or a placeholder made from the track id: a gradient whose colours are a hash of the
// id, so the same track always looks the same, with the title's first letter on it.

import { useState } from 'preact/hooks';
import type { Track } from '../../../src/domain/types.ts';

function hash(text: string): number {
  // FNV-1a: tiny and spreads similar ids (demo:0001, demo:0002) far apart.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function placeholderBackground(trackId: string): string {
  const h = hash(trackId);
  const a = h % 360;
  const b = (a + 40 + ((h >>> 9) % 90)) % 360;
  const angle = 110 + ((h >>> 17) % 100);
  return `linear-gradient(${angle}deg, hsl(${a} 70% 52%), hsl(${b} 75% 32%))`;
}

export function Artwork({ track, size }: { track: Track; size: 'small' | 'large' }) {
  const [failed, setFailed] = useState(false);
  const cls = `art art-${size}`;
  if (track.artworkUrl && !failed) {
    return <img class={cls} src={track.artworkUrl} alt="" loading="lazy" onError={() => setFailed(true)} />;
  }
  const letter = Array.from(track.title.trim())[0]?.toUpperCase() ?? '♪';
  return (
    <span
      class={`${cls} art-placeholder`}
      style={{ background: placeholderBackground(track.trackId) }}
      aria-hidden="true"
    >
      {letter}
    </span>
  );
}
