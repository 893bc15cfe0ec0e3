// The client commands of `chorus`, over REST or gRPC (`--transport`). Human-readable output by
// default, `--json` for scripts; a failure prints `CODE: message` and exits 1. Tokens from
// create-room/join are saved per server, room and identity (`--as NAME`, default none), so later
// commands need no --token and several people on one machine stay apart; `join` never replaces a
// saved token without asking (it may be the host's, and the host would be locked out). The gRPC
// client is loaded only for --transport grpc: a REST command starts in a fraction of a second.

import { Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ChorusError } from '../domain/errors.ts';
import type { RoomEvent, RoomView, Track } from '../domain/index.ts';
import { TRANSPORTS, type ChorusClient, type Transport } from './api-client.ts';
import { count, eta, mmss, when } from './format.ts';
import type { GrpcClient } from './grpc-client.ts';
import { RestClient } from './rest-client.ts';
import { WatchLines } from './watch-lines.ts';

type Opts = Record<string, string | boolean | undefined>;

export interface ClientCommand {
  readonly usage: string;
  readonly description: string;
  readonly options?: readonly Option[];
  run(args: readonly string[], opts: Opts): Promise<void>;
}

// ---- Saved tokens --------------------------------------------------------------------------------

function credentialsFile(): string {
  return (
    process.env['CHORUS_CREDENTIALS'] ??
    join(process.env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'chorus', 'credentials.json')
  );
}

async function loadCredentials(): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(credentialsFile(), 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

/** Where a token is saved: per server and room, and per identity when `--as NAME` is given. */
function credentialKey(server: string, roomId: string, opts: Opts): string {
  const as = typeof opts['as'] === 'string' && opts['as'] !== '' ? ` as ${opts['as']}` : '';
  return `${server} ${roomId}${as}`;
}

async function savedToken(server: string, roomId: string, opts: Opts): Promise<string | undefined> {
  return (await loadCredentials())[credentialKey(server, roomId, opts)];
}

async function saveToken(server: string, roomId: string, opts: Opts, token: string): Promise<void> {
  const all = await loadCredentials();
  all[credentialKey(server, roomId, opts)] = token;
  await mkdir(dirname(credentialsFile()), { recursive: true });
  await writeFile(credentialsFile(), JSON.stringify(all, null, 2), { mode: 0o600 });
}

/** A random key this CLI profile keeps beside its tokens and sends on join: a ban refuses it again. */
async function clientKey(): Promise<string> {
  const all = await loadCredentials();
  const kept = all[CLIENT_KEY];
  if (kept) return kept;
  all[CLIENT_KEY] = randomBytes(18).toString('base64url');
  await mkdir(dirname(credentialsFile()), { recursive: true });
  await writeFile(credentialsFile(), JSON.stringify(all, null, 2), { mode: 0o600 });
  return all[CLIENT_KEY];
}

/** Never a token key (those are "SERVER ROOM[ as NAME]"). */
const CLIENT_KEY = '~client-key';

// ---- Transports ----------------------------------------------------------------------------------

export const DEFAULT_SERVER: Readonly<Record<Transport, string>> = {
  rest: 'http://127.0.0.1:8080',
  grpc: '127.0.0.1:50051',
};

function transportOf(opts: Opts): Transport {
  const transport = opts['transport'] ?? 'rest';
  if (!(TRANSPORTS as readonly unknown[]).includes(transport)) {
    throw new ChorusError('INVALID_ARGUMENT', `--transport must be ${TRANSPORTS.join(' or ')}`);
  }
  return transport as Transport;
}

/** The node to talk to: a URL for REST, HOST:PORT (or grpc://HOST:PORT) for gRPC. */
function serverOf(opts: Opts): string {
  const transport = transportOf(opts);
  const given = typeof opts['server'] === 'string' ? opts['server'] : DEFAULT_SERVER[transport];
  if (transport === 'rest') return given.replace(/\/+$/, '');
  const address = given.replace(/^grpc:\/\//, '').replace(/\/+$/, '');
  if (address.includes('/')) {
    throw new ChorusError(
      'INVALID_ARGUMENT',
      `with --transport grpc, --server is the gRPC address HOST:PORT (e.g. ${DEFAULT_SERVER.grpc}), not ${given}`,
    );
  }
  return address;
}

/** gRPC clients opened by this command, closed when it ends so the process can exit. */
const openGrpcClients = new Set<GrpcClient>();

export function closeClients(): void {
  for (const client of openGrpcClients) client.close();
  openGrpcClients.clear();
}

async function clientFor(opts: Opts, roomId?: string): Promise<ChorusClient> {
  const server = serverOf(opts);
  let token = typeof opts['token'] === 'string' ? opts['token'] : undefined;
  if (!token && roomId) token = await savedToken(server, roomId, opts);
  if (transportOf(opts) === 'rest') return new RestClient({ server, token });
  const { GrpcClient } = await import('./grpc-client.ts');
  const client = new GrpcClient({ server, token });
  openGrpcClients.add(client);
  return client;
}

async function needToken(opts: Opts, roomId: string): Promise<ChorusClient> {
  const client = await clientFor(opts, roomId);
  const server = client.server;
  if (!opts['token'] && !(await savedToken(server, roomId, opts))) {
    const as = typeof opts['as'] === 'string' ? ` --as ${opts['as']}` : '';
    throw new ChorusError(
      'UNAUTHENTICATED',
      `no token for room ${roomId}${as}: run \`chorus join ${roomId} <name>${as}\` first, or pass --token`,
    );
  }
  return client;
}

// ---- Output --------------------------------------------------------------------------------------

function print(opts: Opts, value: unknown, human: () => string): void {
  process.stdout.write(opts['json'] ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

function trackLine(t: Track): string {
  return `${t.artist} - ${t.title} (${mmss(t.durationMs === 0 ? null : t.durationMs)})`;
}

function renderRoom(room: RoomView): string {
  const lines = [
    `${room.name} [${room.id}]  version ${room.version}, ${count(room.memberCount, 'member')}${room.locked ? ', locked' : ''}`,
  ];
  const np = room.nowPlaying;
  lines.push(
    np
      ? `now playing: ${trackLine(np.track)}  ${mmss(np.positionMs)} / ${mmss(np.track.durationMs === 0 ? null : np.track.durationMs)}${np.paused ? ' (paused)' : ''}  added by ${np.addedBy.name}`
      : 'now playing: nothing',
  );
  if (room.queue.length === 0) lines.push('queue: empty');
  for (const q of room.queue) {
    const vote = q.myVote === 1 ? ' (you: up)' : q.myVote === -1 ? ' (you: down)' : '';
    lines.push(
      `${String(q.position).padStart(3)}. ${trackLine(q.track)}  score ${q.score} (+${q.ups}/-${q.downs})${vote}  ${eta(q.etaMs)}  by ${q.addedBy.name}  [${q.entryId}]`,
    );
  }
  if (room.queueLength > room.queueOffset + room.queue.length)
    lines.push(`... ${room.queueLength - room.queue.length} more`);
  return lines.join('\n');
}

/**
 * `join` over a saved token: that token may be the host's, and the host would lose the host
 * commands. On a terminal, ask; otherwise refuse and say how to go on.
 */
async function confirmReplace(roomId: string, opts: Opts): Promise<void> {
  const as = typeof opts['as'] === 'string' ? ` --as ${opts['as']}` : '';
  const refusal = new ChorusError(
    'FAILED_PRECONDITION',
    `a token for room ${roomId}${as} is already saved (perhaps the host's); join with --as NAME to ` +
      `keep both, or --replace to replace it`,
  );
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw refusal;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `A token for room ${roomId}${as} is already saved (perhaps the host's). Replace it? [y/N] `,
    );
    if (!/^y(es)?$/i.test(answer.trim())) throw refusal;
  } finally {
    rl.close();
  }
}

/** An entry given as an id, or as its 1-based position in the queue. */
async function resolveEntry(client: ChorusClient, roomId: string, ref: string): Promise<string> {
  if (!/^\d+$/.test(ref)) return ref;
  const room = await client.room(roomId, { offset: Number(ref) - 1, limit: 1 });
  const entry = room.queue[0];
  if (!entry) throw new ChorusError('NOT_FOUND', `there is no entry at position ${ref}`);
  return entry.entryId;
}

// ---- Commands ------------------------------------------------------------------------------------

export const clientCommands: readonly ClientCommand[] = [
  {
    usage: 'rooms',
    description: 'list public rooms',
    async run(_args, opts) {
      const { rooms } = await (await clientFor(opts)).listRooms();
      print(opts, rooms, () =>
        rooms.length === 0
          ? 'no public rooms'
          : rooms
              .map(
                (r) =>
                  `${r.id}  ${r.name}  (${count(r.memberCount, 'member')}, ${r.queueLength} queued${r.nowPlaying ? `, playing ${r.nowPlaying}` : ''})`,
              )
              .join('\n'),
      );
    },
  },
  {
    usage: 'create-room <name>',
    description: 'create a room; you become its host (the token is saved)',
    options: [
      new Option('--host-name <name>', 'your display name').default('host'),
      new Option('--id <roomId>', 'choose the room id'),
      new Option('--private', 'do not list the room'),
    ],
    async run([name], opts) {
      const client = await clientFor(opts);
      const created = await client.createRoom({
        name: name ?? '',
        hostName: String(opts['hostName']),
        ...(typeof opts['id'] === 'string' ? { roomId: opts['id'] } : {}),
        ...(opts['private'] ? { settings: { public: false } } : {}),
      });
      await saveToken(client.server, created.room.id, opts, created.token);
      print(
        opts,
        created,
        () =>
          `created room ${created.room.id} ("${created.room.name}"); you are its host\ntoken ${created.token}` +
          (created.invite ? `\ninvite ${created.invite} (others join with --invite ${created.invite})` : '') +
          (created.recoveryKey
            ? `\nrecovery-key ${created.recoveryKey} (shown once: keep it; it makes you the host again)`
            : ''),
      );
    },
  },
  {
    usage: 'join <room> <name>',
    description:
      'join a room with a display name (the token is saved; --as NAME keeps several identities apart)',
    options: [
      new Option('--replace', 'replace a token saved for this room (and --as) without asking'),
      new Option('--invite <secret>', "a private room's invite secret"),
    ],
    async run([roomId = '', name = ''], opts) {
      const client = await clientFor(opts);
      if (!opts['replace'] && !opts['token'] && (await savedToken(client.server, roomId, opts))) {
        await confirmReplace(roomId, opts);
      }
      const joined = await client.join(roomId, name, {
        ...(typeof opts['invite'] === 'string' ? { invite: opts['invite'] } : {}),
        clientKey: await clientKey(),
      });
      await saveToken(client.server, roomId, opts, joined.token);
      print(
        opts,
        joined,
        () => `joined ${roomId} as ${name} (member ${joined.memberId})\ntoken ${joined.token}`,
      );
    },
  },
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
      if (typeof opts['title'] === 'string') {
        const seconds = Number(opts['duration']);
        // 0 (the default) is a track of unknown length: it plays until the host skips it.
        if (!Number.isFinite(seconds) || seconds < 0)
          throw new ChorusError('INVALID_ARGUMENT', '--duration must be a number of seconds (0: unknown)');
        const artist = typeof opts['artist'] === 'string' ? opts['artist'] : 'Unknown artist';
        const trackId =
          typeof opts['trackId'] === 'string'
            ? opts['trackId']
            : `own:${artist}:${opts['title']}`.toLowerCase().slice(0, 200);
        input = {
          track: {
            trackId,
            title: opts['title'],
            artist,
            album: String(opts['album']),
            durationMs: Math.round(seconds * 1000),
          },
        };
        chosen = input.track;
      } else {
        const query = words.join(' ').trim();
        if (!query)
          throw new ChorusError(
            'INVALID_ARGUMENT',
            'say which track: a catalog id, search words, or --title',
          );
        const exact = await client.track(query).catch(() => null);
        const found = exact ?? (await client.search(query, 1)).tracks[0];
        if (!found) throw new ChorusError('NOT_FOUND', `no track matches "${query}"`);
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
      if (value === undefined)
        throw new ChorusError('INVALID_ARGUMENT', 'direction must be up, down or withdraw');
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
      if (entryId === undefined) throw new ChorusError('FAILED_PRECONDITION', 'nothing is playing');
      const result = await client.reportEnded(roomId, entryId);
      print(opts, result, () =>
        result.advanced ? renderRoom(result.room) : 'the room had already moved on',
      );
    },
  },
  {
    usage: 'queue <room>',
    description: 'show now playing and the queue',
    options: [new Option('--limit <n>', 'entries to show').default('50')],
    async run([roomId = ''], opts) {
      const room = await (await clientFor(opts, roomId)).room(roomId, { limit: Number(opts['limit']) });
      print(opts, room, () => renderRoom(room));
    },
  },
  {
    usage: 'history <room>',
    description: 'show what played, newest first',
    options: [new Option('--limit <n>', 'records to show').default('20')],
    async run([roomId = ''], opts) {
      const page = await (await clientFor(opts, roomId)).history(roomId, { limit: Number(opts['limit']) });
      const now = Date.now();
      print(opts, page, () =>
        page.records.length === 0
          ? 'nothing has played yet'
          : page.records
              .map(
                (r) =>
                  `#${r.playNo}  ${trackLine(r.track)}  ${r.reason}  (+${r.ups}/-${r.downs})  added by ${r.addedBy.name}  ${when(r.startedAt, now)}`,
              )
              .join('\n'),
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
  {
    usage: 'watch <room>',
    description: 'print live changes of a room until interrupted (resumes by itself after a disconnect)',
    async run([roomId = ''], opts) {
      const client = await clientFor(opts, roomId);
      const lines = new WatchLines();
      // The stream is the room's public view: learn the watcher's own name with its token, if any.
      const me = await client
        .room(roomId, { limit: 0 })
        .then((room) => room.me)
        .catch(() => null);
      if (me) lines.know(me);
      const onMessage = (event: string, data: unknown): void => {
        if (opts['json']) process.stdout.write(`${JSON.stringify({ event, data })}\n`);
        else if (event === 'reset') {
          const room = (data as { room: RoomView }).room;
          lines.reset(room);
          process.stdout.write(`${renderRoom(room)}\n`);
        } else {
          for (const e of (data as { events: RoomEvent[] }).events) {
            process.stdout.write(`${lines.line(e)}\n`);
          }
        }
      };
      if (transportOf(opts) === 'grpc') await watchGrpc(client as GrpcClient, roomId, onMessage);
      else await watch(client, roomId, onMessage);
    },
  },
];

/** Follows a room's Watch stream (resuming from the last version seen) until SIGINT. */
async function watchGrpc(
  client: GrpcClient,
  roomId: string,
  onMessage: (event: string, data: unknown) => void,
): Promise<void> {
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  await client.watch(roomId, (message) => onMessage(message.event, message.data), stop.signal);
}

/** Follows a room's SSE stream, resuming with Last-Event-ID after a disconnect, until SIGINT. */
async function watch(
  client: ChorusClient,
  roomId: string,
  onMessage: (event: string, data: unknown) => void,
): Promise<void> {
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  let lastId: string | null = null;
  while (!stop.signal.aborted) {
    try {
      const response = await fetch(`${client.server}/v1/rooms/${encodeURIComponent(roomId)}/events`, {
        headers: lastId ? { 'last-event-id': lastId } : {},
        signal: stop.signal,
      });
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => null)) as {
          error?: { code: string; message: string };
        } | null;
        if (body?.error) throw new ChorusError(body.error.code as 'NOT_FOUND', body.error.message);
        throw new ChorusError('UNAVAILABLE', `HTTP ${response.status}`);
      }
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) lastId = line.slice(4);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) onMessage(event, JSON.parse(data));
        }
      }
    } catch (err) {
      if (stop.signal.aborted) return;
      if (err instanceof ChorusError && err.code !== 'UNAVAILABLE') throw err;
      process.stderr.write('connection lost; reconnecting...\n');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
