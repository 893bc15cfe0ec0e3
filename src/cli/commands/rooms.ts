// Client commands about rooms: list, create, join (by invite, passcode or the host's approval),
// read the queue and the history, watch (until interrupted, or --for SECONDS). A private room's
// invite is saved when create-room or join gets it, and sent by queue, history, watch and a later
// join by themselves (--invite overrides it). `join` never replaces a saved token without asking (it may
// be the host's, and the host would be locked out); `create-room` prints the host recovery key once.

import { Option } from 'commander';
import { chorusError, type RoomEvent, type RoomView, type SettingsPatch } from '../../domain/index.ts';
import type { ChorusClient } from '../api-client.ts';
import { cliError } from '../errors.ts';
import { count, when } from '../format.ts';
import type { GrpcClient } from '../grpc-client.ts';
import { recoveryKeyLines, renderRoom, trackLine } from '../render.ts';
import type { RestClient } from '../rest-client.ts';
import {
  asFlag,
  clientFor,
  clientKey,
  confirmReplace,
  inviteOf,
  print,
  saveInvite,
  savedToken,
  saveToken,
  text,
  transportOf,
  type ClientCommand,
  type Opts,
} from '../session.ts';
import { WatchLines } from '../watch-lines.ts';
import { watchGrpc, watchSse } from '../watch.ts';

/** --invite of the reads: a fresh Option per command (commander keeps state in each). */
const INVITE_OPTION = (): Option =>
  new Option(
    '--invite <secret>',
    "a private room's invite (default: the one saved by create-room/join/invite)",
  );

/** How often a join waiting for the host's approval asks whether it was decided. */
const APPROVAL_POLL_MS = 1000;

export const roomCommands: readonly ClientCommand[] = [
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
    description:
      'create a room; you become its host (the token is saved; the recovery key is printed once: keep it)',
    options: [
      new Option('--host-name <name>', 'your display name').default('host'),
      new Option('--id <roomId>', 'choose the room id'),
      new Option('--private', 'do not list the room; guests need its invite (printed)'),
      new Option('--passcode <code>', 'guests join with this passcode (join policy "passcode")'),
      new Option('--approval', 'you admit each guest (join policy "approval"; `chorus pending`)'),
    ],
    async run([name], opts) {
      const client = await clientFor(opts);
      const passcode = text(opts, 'passcode');
      const roomId = text(opts, 'id');
      const settings: SettingsPatch = {
        ...(opts['private'] ? { public: false } : {}),
        ...(passcode !== undefined ? { joinPolicy: 'passcode' as const } : {}),
        ...(opts['approval'] ? { joinPolicy: 'approval' as const } : {}),
      };
      const created = await client.createRoom({
        name: name ?? '',
        hostName: String(opts['hostName']),
        ...(roomId !== undefined ? { roomId } : {}),
        ...(Object.keys(settings).length > 0 ? { settings } : {}),
        ...(passcode !== undefined ? { passcode } : {}),
      });
      await saveToken(client.server, created.room.id, opts, created.token);
      if (created.invite) await saveInvite(client.server, created.room.id, created.invite);
      print(
        opts,
        created,
        () =>
          `created room ${created.room.id} ("${created.room.name}"); you are its host\ntoken ${created.token}` +
          (created.invite ? `\ninvite ${created.invite} (others join with --invite ${created.invite})` : '') +
          (created.recoveryKey ? `\n${recoveryKeyLines(created.room.id, created.recoveryKey)}` : ''),
      );
    },
  },
  {
    usage: 'join <room> <name>',
    description:
      'join a room with a display name (the token is saved; --as NAME keeps several identities apart)',
    options: [
      new Option('--replace', 'replace a token saved for this room (and --as) without asking'),
      new Option('--invite <secret>', "a private room's invite secret (saved for the room's later commands)"),
      new Option('--passcode <code>', "the room's passcode, when it asks for one"),
      new Option(
        '--wait <seconds>',
        'when the host admits guests, wait this long for the decision (0: do not wait)',
      ).default('300'),
    ],
    async run([roomId = '', name = ''], opts) {
      const client = await clientFor(opts);
      if (!opts['replace'] && !opts['token'] && (await savedToken(client.server, roomId, opts))) {
        await confirmReplace(roomId, opts);
      }
      const invite = await inviteOf(opts, client.server, roomId);
      const passcode = text(opts, 'passcode');
      const joined = await client.join(roomId, name, {
        ...(invite !== undefined ? { invite } : {}),
        ...(passcode !== undefined ? { passcode } : {}),
        clientKey: await clientKey(),
      });
      // Saved before any wait: the request is this identity's, whether or not it waits here. The
      // invite that let them in is kept for the room's reads (history, watch) and later joins.
      await saveToken(client.server, roomId, opts, joined.token);
      if (invite !== undefined) await saveInvite(client.server, roomId, invite);
      if (!joined.pending) {
        print(
          opts,
          joined,
          () => `joined ${roomId} as ${name} (member ${joined.memberId})\ntoken ${joined.token}`,
        );
        return;
      }
      const seconds = Number(opts['wait']);
      if (!Number.isFinite(seconds) || seconds < 0)
        throw chorusError('FIELD_INVALID', { field: '--wait', problem: 'must be a number of seconds' });
      if (seconds === 0) {
        print(
          opts,
          joined,
          () =>
            `asked to join ${roomId} as ${name} (member ${joined.memberId}); the host decides\ntoken ${joined.token}`,
        );
        return;
      }
      if (!opts['json']) process.stderr.write(`waiting for the host of ${roomId} to admit you...\n`);
      const room = await awaitDecision(
        await clientFor(opts, roomId, joined.token),
        roomId,
        invite,
        Date.now() + seconds * 1000,
        opts,
      );
      print(
        opts,
        { ...joined, room, pending: false },
        () =>
          `joined ${roomId} as ${name} (member ${joined.memberId}): the host admitted you\ntoken ${joined.token}`,
      );
    },
  },
  {
    usage: 'queue <room>',
    description: 'show now playing and the queue',
    options: [new Option('--limit <n>', 'entries to show').default('50'), INVITE_OPTION()],
    async run([roomId = ''], opts) {
      const client = await clientFor(opts, roomId);
      const invite = await inviteOf(opts, client.server, roomId);
      const room = await client.room(roomId, {
        limit: Number(opts['limit']),
        ...(invite !== undefined ? { invite } : {}),
      });
      print(opts, room, () => renderRoom(room));
    },
  },
  {
    usage: 'history <room>',
    description: 'show what played, newest first',
    options: [new Option('--limit <n>', 'records to show').default('20'), INVITE_OPTION()],
    async run([roomId = ''], opts) {
      const client = await clientFor(opts, roomId);
      const invite = await inviteOf(opts, client.server, roomId);
      const page = await client.history(roomId, {
        limit: Number(opts['limit']),
        ...(invite !== undefined ? { invite } : {}),
      });
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
    usage: 'watch <room>',
    description:
      'print live changes of a room until interrupted or --for SECONDS (resumes by itself after a disconnect; with a saved token you count as present)',
    options: [
      new Option('--for <seconds>', 'stop by itself after this many seconds (for scripts)'),
      INVITE_OPTION(),
    ],
    async run([roomId = ''], opts) {
      const seconds = text(opts, 'for') === undefined ? null : Number(opts['for']);
      if (seconds !== null && !(Number.isFinite(seconds) && seconds > 0))
        throw chorusError('FIELD_INVALID', {
          field: '--for',
          problem: 'must be a number of seconds above 0',
        });
      const client = await clientFor(opts, roomId);
      const invite = await inviteOf(opts, client.server, roomId);
      const lines = new WatchLines();
      // The stream is the room's public view: learn the watcher's own name with its token, if any.
      const me = await client
        .room(roomId, { limit: 0, ...(invite !== undefined ? { invite } : {}) })
        .then((room) => room.me)
        .catch(() => null);
      if (me) lines.know(me);
      const stop = new AbortController();
      const interrupt = (): void => stop.abort();
      process.once('SIGINT', interrupt);
      const timer = seconds === null ? null : setTimeout(interrupt, seconds * 1000);
      let removed: { banned: boolean } | null = null;
      const onMessage = (event: string, data: unknown): void => {
        if (event === 'removed') removed = data as { banned: boolean };
        if (opts['json']) process.stdout.write(`${JSON.stringify({ event, data })}\n`);
        else if (event === 'removed') {
          process.stdout.write(
            `${removed?.banned ? 'the host banned you' : 'the host removed you'}; the watch ends\n`,
          );
        } else if (event === 'reset') {
          const room = (data as { room: RoomView }).room;
          lines.reset(room);
          process.stdout.write(`${renderRoom(room)}\n`);
        } else {
          for (const e of (data as { events: RoomEvent[] }).events) {
            process.stdout.write(`${lines.line(e)}\n`);
          }
        }
      };
      try {
        if (transportOf(opts) === 'grpc')
          await watchGrpc(client as GrpcClient, roomId, onMessage, stop.signal, invite);
        else await watchSse(client as RestClient, roomId, onMessage, stop.signal, invite);
      } finally {
        if (timer) clearTimeout(timer);
        process.off('SIGINT', interrupt);
      }
      // Ended by the room, not by the person: scripts see it in the exit status.
      const ended = removed as { banned: boolean } | null;
      if (ended) throw cliError('REMOVED_FROM_ROOM', { roomId, banned: ended.banned });
    },
  },
];

/**
 * Waits until the host decides a join request: the room once admitted; a refusal when turned away
 * (the request is gone and the token names no member), or when `deadline` passes first.
 */
async function awaitDecision(
  client: ChorusClient,
  roomId: string,
  invite: string | undefined,
  deadline: number,
  opts: Opts,
): Promise<RoomView> {
  for (;;) {
    const room = await client.room(roomId, { limit: 0, ...(invite !== undefined ? { invite } : {}) });
    if (room.me !== null && !room.joinPending) return room;
    if (room.me === null && !room.joinPending) throw cliError('JOIN_TURNED_AWAY', { roomId });
    if (Date.now() >= deadline) throw cliError('JOIN_STILL_WAITING', { roomId, as: asFlag(opts) });
    await new Promise((r) => setTimeout(r, APPROVAL_POLL_MS));
  }
}
