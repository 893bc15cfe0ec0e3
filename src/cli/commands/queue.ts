// Client commands about the queue and playback: add (by catalog id, search words or a track of
// one's own), vote, remove, skip, pause, resume, ended, and the catalog search. An entry is given
// by its id or its 1-based position in the queue.

import { Option } from 'commander';
import { chorusError, type Track } from '../../domain/index.ts';
import type { ChorusClient } from '../api-client.ts';
import { cliError } from '../errors.ts';
import { renderRoom, trackLine } from '../render.ts';
import { clientFor, needToken, print, text, type ClientCommand } from '../session.ts';

/** An entry given as an id, or as its 1-based position in the queue. */
async function resolveEntry(client: ChorusClient, roomId: string, ref: string): Promise<string> {
  if (!/^\d+$/.test(ref)) return ref;
  const room = await client.room(roomId, { offset: Number(ref) - 1, limit: 1 });
  const entry = room.queue[0];
  if (!entry) throw cliError('NO_ENTRY_AT', { position: ref });
  return entry.entryId;
}

export const queueCommands: readonly ClientCommand[] = [
  {
    usage: 'add <room> [track...]',
    description:
      'add a track: a catalog id, or search words (the best match is added), or --title/--artist/--duration',
    options: [
      new Option('--title <title>', 'title of your own track'),
      new Option('--artist <artist>', 'artist of your own track'),
      new Option('--album <album>', 'album of your own track').default(''),
      new Option('--duration <seconds>', 'duration of your own track in seconds (0: unknown length)'),
      new Option('--track-id <id>', 'id for your own track (default: from artist and title)'),
    ],
    async run([roomId = '', ...words], opts) {
      const client = await needToken(opts, roomId);
      let input: { trackId: string } | { track: Track };
      // What is being added, to name it when it starts playing at once (the answer has no entry then).
      let chosen: Track | null = null;
      const title = text(opts, 'title');
      if (title !== undefined) {
        const seconds = Number(opts['duration']);
        // 0 (the default) is a track of unknown length: it plays until the host skips it.
        if (!Number.isFinite(seconds) || seconds < 0)
          throw chorusError('FIELD_INVALID', {
            field: '--duration',
            problem: 'must be a number of seconds (0: unknown)',
          });
        const artist = text(opts, 'artist') ?? 'Unknown artist';
        const trackId = text(opts, 'trackId') ?? `own:${artist}:${title}`.toLowerCase().slice(0, 200);
        input = {
          track: {
            trackId,
            title,
            artist,
            album: String(opts['album']),
            durationMs: Math.round(seconds * 1000),
          },
        };
        chosen = input.track;
      } else {
        const query = words.join(' ').trim();
        if (!query) throw cliError('TRACK_NOT_SAID');
        const exact = await client.track(query).catch(() => null);
        const found = exact ?? (await client.search(query, 1)).tracks[0];
        if (!found) throw cliError('NO_TRACK_MATCHES', { query });
        input = { trackId: found.trackId };
        chosen = found;
      }
      const added = await client.add(roomId, input);
      print(opts, added, () =>
        added.started
          ? chosen
            ? `added ${trackLine(chosen)}; it is playing now`
            : 'added; it is playing now'
          : `added at position ${added.entry?.position ?? '?'}: ${added.entry ? trackLine(added.entry.track) : ''} [${added.entry?.entryId ?? ''}]`,
      );
    },
  },
  {
    usage: 'vote <room> <entry> <direction>',
    description: 'vote on an entry (its id or queue position): up, down or withdraw',
    async run([roomId = '', ref = '', direction = ''], opts) {
      const value = ({ up: 1, down: -1, withdraw: 0 } as const)[direction as 'up' | 'down' | 'withdraw'];
      if (value === undefined) throw cliError('DIRECTION_UNKNOWN');
      const client = await needToken(opts, roomId);
      const result = await client.vote(roomId, await resolveEntry(client, roomId, ref), value);
      print(
        opts,
        result,
        () =>
          `score ${result.score} (+${result.ups}/-${result.downs})${result.position ? `, now at position ${result.position}` : ''}${result.effect !== 'none' ? `, ${result.effect}` : ''}`,
      );
    },
  },
  {
    usage: 'remove <room> <entry>',
    description: 'remove an entry (your own, or any as the host)',
    async run([roomId = '', ref = ''], opts) {
      const client = await needToken(opts, roomId);
      const result = await client.remove(roomId, await resolveEntry(client, roomId, ref));
      print(opts, result, () => `removed ${result.entryId}`);
    },
  },
  {
    usage: 'skip <room>',
    description: 'host: skip the playing track (or start playback)',
    async run([roomId = ''], opts) {
      const client = await needToken(opts, roomId);
      const result = await client.advance(roomId);
      print(opts, result, () => (result.advanced ? renderRoom(result.room) : 'nothing to skip'));
    },
  },
  {
    usage: 'pause <room>',
    description: 'host: pause the playing track (every player stops)',
    async run([roomId = ''], opts) {
      const room = await (await needToken(opts, roomId)).setPaused(roomId, true);
      print(opts, room, () => renderRoom(room));
    },
  },
  {
    usage: 'resume <room>',
    description: 'host: resume the paused track from where it stopped',
    async run([roomId = ''], opts) {
      const room = await (await needToken(opts, roomId)).setPaused(roomId, false);
      print(opts, room, () => renderRoom(room));
    },
  },
  {
    usage: 'ended <room> [entry]',
    description: 'report that a track (default: the playing one) played to its end on this device',
    async run([roomId = '', ref = ''], opts) {
      const client = await needToken(opts, roomId);
      const entryId = ref !== '' ? ref : (await client.room(roomId, { limit: 0 })).nowPlaying?.entryId;
      if (entryId === undefined) throw chorusError('NOTHING_PLAYING');
      const result = await client.reportEnded(roomId, entryId);
      print(opts, result, () =>
        result.advanced ? renderRoom(result.room) : 'the room had already moved on',
      );
    },
  },
  {
    usage: 'search [words...]',
    description: 'search the catalog',
    options: [new Option('--limit <n>', 'results to show').default('20')],
    async run(words, opts) {
      const { tracks } = await (await clientFor(opts)).search(words.join(' '), Number(opts['limit']));
      print(opts, tracks, () =>
        tracks.length === 0
          ? 'no match'
          : tracks.map((t) => `${t.trackId}  ${trackLine(t)}  ${t.album}`).join('\n'),
      );
    },
  },
];
