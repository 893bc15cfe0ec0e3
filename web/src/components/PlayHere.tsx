// "Play here": this device plays the room's sound in step with the server's timeline (player.ts).
// The switch is remembered per device; what the player is doing is said in words, including the
// two cases a person must act on or know about: the browser wants a tap before sound, and the
// playing track has no audio (the timeline runs on regardless).

import { useEffect, useRef, useState } from 'preact/hooks';
import { loadPlayHere, savePlayHere } from '../identity.ts';
import { useExternal } from '../hooks.ts';
import type { RoomModel } from '../model.ts';
import type { Player, PlayerStatus } from '../player.ts';

const WORDS: Record<PlayerStatus, string> = {
  off: 'Turn it on to play the music on this device, in step with everyone else.',
  idle: 'Nothing is playing right now.',
  noAudio: 'No audio for this track: the timeline runs on without sound.',
  loading: 'Loading the track…',
  playing: 'Playing here, in step with the room.',
  paused: 'The host paused the music.',
  blocked: 'Your browser needs a tap before it plays sound.',
  error: 'This track could not be played here (the server may not have its file).',
};

export function PlayHere({ room, player }: { room: RoomModel; player: Player }) {
  const [on, setOn] = useState(loadPlayHere);
  const state = useExternal(player.subscribe, player.getState);
  const audio = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    player.attach(audio.current);
    return () => player.attach(null);
  }, [player]);
  useEffect(() => player.setEnabled(on), [player, on]);
  useEffect(() => player.update(room.nowPlaying), [player, room.nowPlaying]);

  const toggle = (): void => {
    savePlayHere(!on);
    setOn(!on);
    // Turning it on is a tap: the browser lets the sound start within it.
    if (!on) player.unblock();
  };
  return (
    <section class="card play-here" aria-labelledby="play-here-h" data-status={state.status}>
      <div class="play-here-row">
        <h2 id="play-here-h" class="eyebrow">
          Play here
        </h2>
        <button
          type="button"
          role="switch"
          aria-checked={on}
          aria-labelledby="play-here-h"
          class={`switch ${on ? 'switch-on' : ''}`}
          data-testid="play-here"
          onClick={toggle}
        >
          <span class="switch-knob" />
        </button>
      </div>
      <p class="muted small" role="status" data-testid="player-status">
        {WORDS[state.status]}
      </p>
      {state.status === 'blocked' && (
        <button
          type="button"
          class="btn btn-primary"
          data-testid="start-sound"
          onClick={() => player.unblock()}
        >
          Start the sound
        </button>
      )}
      <audio ref={audio} data-testid="room-audio" />
    </section>
  );
}
