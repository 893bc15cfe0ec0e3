// Client commands of hosts and co-hosts (issue 20): the members with who is here, kick and ban,
// roles, hand-over (which retires the room's recovery key), recovery of a lost host token, a new
// recovery key (the new host's, after a hand-over), a new invite, the settings that control joining
// and skipping, and the join requests waiting for approval. A member is named by id or by display
// name (refused when several share it). `recover` saves the new host token under the identity the
// command acts as (--as), so the host's and a guest's tokens stay apart.

import { Option } from 'commander';
import { chorusError, type RoomView, type SettingsPatch } from '../../domain/index.ts';
import type { ChorusClient } from '../api-client.ts';
import { cliError } from '../errors.ts';
import { recoveryKeyLines, renderMembers } from '../render.ts';
import {
  clientFor,
  needToken,
  print,
  saveInvite,
  saveToken,
  text,
  transportOf,
  type ClientCommand,
  type Opts,
} from '../session.ts';

/** A member of the room named by id or by display name. */
async function resolveMember(client: ChorusClient, roomId: string, who: string): Promise<string> {
  const { members } = await client.members(roomId);
  return pick(members, roomId, who, 'member');
}

/** A waiting join request named by the joiner's id or name. */
async function resolvePending(client: ChorusClient, roomId: string, who: string): Promise<string> {
  const room = await client.room(roomId, { limit: 0 });
  return pick(room.pendingJoins, roomId, who, 'join request');
}

function pick(
  list: ReadonlyArray<{ readonly memberId: string; readonly name: string }>,
  roomId: string,
  who: string,
  kind: 'member' | 'join request',
): string {
  if (list.some((m) => m.memberId === who)) return who;
  const named = list.filter((m) => m.name === who);
  const found = named.length > 0 ? named : list.filter((m) => m.name.toLowerCase() === who.toLowerCase());
  if (found.length === 1) return found[0]!.memberId;
  if (found.length > 1)
    throw cliError('MEMBER_NAME_SHARED', { who, ids: found.map((m) => m.memberId).join(', ') });
  throw cliError('MEMBER_UNKNOWN', { roomId, who, list: kind });
}

/** A whole number option, or undefined when not given. */
function whole(opts: Opts, name: string, flag: string): number | undefined {
  const value = text(opts, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw chorusError('FIELD_INVALID', { field: flag, problem: 'must be a whole number' });
  return Number(value);
}

/** The settings `chorus settings` shows, one per line. */
function renderSettings(room: RoomView): string {
  const s = room.settings;
  return [
    `settings of ${room.id}:`,
    `  public ${s.public}${room.invite ? ` (invite ${room.invite})` : ''}`,
    `  join-policy ${s.joinPolicy}`,
    `  max-members ${s.maxMembers === 0 ? 'no limit' : s.maxMembers}`,
    `  joins-per-minute ${s.joinsPerMinute === 0 ? 'no limit' : s.joinsPerMinute}`,
    `  skip-share ${s.skipShare} (skip-votes ${s.skipVotes} at least)`,
  ].join('\n');
}

const decide = (approve: boolean): ClientCommand => ({
  usage: `${approve ? 'approve' : 'deny'} <room> <member>`,
  description: approve
    ? 'host: admit a waiting join request (by name or id; `chorus pending` lists them)'
    : 'host: turn a waiting join request away',
  async run([roomId = '', who = ''], opts) {
    const client = await needToken(opts, roomId);
    const memberId = await resolvePending(client, roomId, who);
    const room = await client.decideJoin(roomId, memberId, approve);
    print(opts, room, () => `${approve ? 'admitted' : 'turned away'} ${who} (${memberId})`);
  },
});

export const accessCommands: readonly ClientCommand[] = [
  {
    usage: 'members <room>',
    description: 'host or co-host: the members (name, role, present, joined) and the banned',
    async run([roomId = ''], opts) {
      const client = await needToken(opts, roomId);
      const [members, room] = await Promise.all([client.members(roomId), client.room(roomId, { limit: 0 })]);
      const listing = { ...members, present: room.present.map((p) => p.memberId) };
      print(opts, listing, () => renderMembers(listing, Date.now()));
    },
  },
  {
    usage: 'kick <room> <member>',
    description: 'host or co-host: remove a member (by name or id); --ban keeps them out for good',
    options: [
      new Option('--ban', 'ban them: their token and their re-joins from this CLI or browser are refused'),
      new Option('--drop-entries', 'also remove their waiting entries (default: they stay in the queue)'),
    ],
    async run([roomId = '', who = ''], opts) {
      const client = await needToken(opts, roomId);
      const memberId = await resolveMember(client, roomId, who);
      const removed = await client.removeMember(roomId, memberId, {
        ban: opts['ban'] === true,
        removeEntries: opts['dropEntries'] === true,
      });
      print(
        opts,
        removed,
        () =>
          `${removed.banned ? 'banned' : 'removed'} ${who} (${memberId})` +
          (removed.removedEntries > 0 ? `; ${removed.removedEntries} of their entries removed` : ''),
      );
    },
  },
  {
    usage: 'role <room> <member> <role>',
    description: 'host: make a member a co-host (host powers but roles and hand-over), or a member again',
    async run([roomId = '', who = '', role = ''], opts) {
      if (role !== 'cohost' && role !== 'member') throw cliError('ROLE_UNKNOWN');
      const client = await needToken(opts, roomId);
      const memberId = await resolveMember(client, roomId, who);
      const room = await client.setRole(roomId, memberId, role);
      print(opts, room, () => `${who} (${memberId}) is now ${role === 'cohost' ? 'a co-host' : 'a member'}`);
    },
  },
  {
    usage: 'hand-over <room> <member>',
    description: 'host: make another member the host; you stay on as a co-host',
    async run([roomId = '', who = ''], opts) {
      const client = await needToken(opts, roomId);
      const memberId = await resolveMember(client, roomId, who);
      const room = await client.handOver(roomId, memberId);
      print(
        opts,
        room,
        () =>
          `${who} (${memberId}) is now the host of ${roomId}; you are a co-host\n` +
          `the room's recovery key no longer works: the new host makes one with \`chorus recovery-key ${roomId}\``,
      );
    },
  },
  {
    usage: 'recovery-key <room>',
    description:
      'host: a new recovery key, printed once (after a hand-over the room has none; the one before stops working)',
    async run([roomId = ''], opts) {
      const client = await needToken(opts, roomId);
      const made = await client.newRecoveryKey(roomId);
      print(opts, made, () => recoveryKeyLines(roomId, made.recoveryKey));
    },
  },
  {
    usage: 'recover <room>',
    description:
      'become the host again with the recovery key create-room (or recovery-key) printed (the new token is saved; the old one stops working)',
    options: [new Option('--key <recoveryKey>', 'the recovery key').makeOptionMandatory()],
    async run([roomId = ''], opts) {
      const client = await clientFor(opts);
      const recovered = await client.recoverHost(roomId, String(opts['key']));
      await saveToken(client.server, roomId, opts, recovered.token);
      print(
        opts,
        recovered,
        () =>
          `you are the host of ${roomId} again (member ${recovered.memberId}); the new token is saved\n` +
          `token ${recovered.token}`,
      );
    },
  },
  {
    usage: 'invite <room>',
    description: 'host or co-host: a new invite for a private room and its link (old links stop working)',
    async run([roomId = ''], opts) {
      const client = await needToken(opts, roomId);
      const made = await client.newInvite(roomId);
      await saveInvite(client.server, roomId, made.invite);
      // Over REST the node's address is the page's; over gRPC there is no page address to give.
      const link =
        transportOf(opts) === 'rest'
          ? `${client.server}/r/${encodeURIComponent(roomId)}?invite=${encodeURIComponent(made.invite)}`
          : null;
      print(
        opts,
        { ...made, link },
        () =>
          `invite ${made.invite} (others join with --invite ${made.invite}; old links no longer open the room)` +
          (link ? `\nlink ${link}` : ''),
      );
    },
  },
  {
    usage: 'settings <room>',
    description: 'host: show or change how people join and how many votes skip a track',
    options: [
      new Option('--join-policy <policy>', 'who may join').choices(['open', 'passcode', 'approval']),
      new Option('--passcode <code>', 'set the passcode (and the join policy "passcode" unless given)'),
      new Option('--clear-passcode', 'remove the passcode'),
      new Option('--max-members <n>', 'members the room takes, the host included (0: no limit)'),
      new Option(
        '--joins-per-minute <n>',
        'joins the room takes a minute, from everyone together (0: no limit)',
      ),
      new Option(
        '--skip-share <fraction>',
        'share of the present members whose downvotes skip a track (0-1)',
      ),
      new Option('--skip-votes <n>', 'downvotes that skip a track at least (0: no skipping by votes)'),
      new Option('--private', 'unlist the room; guests need its invite'),
      new Option('--public', 'list the room; anyone with its id may open it'),
    ],
    async run([roomId = ''], opts) {
      const client = await needToken(opts, roomId);
      const passcode = opts['clearPasscode'] ? null : text(opts, 'passcode');
      const policy = text(opts, 'joinPolicy') as SettingsPatch['joinPolicy'];
      const share = text(opts, 'skipShare');
      const skipShare = share === undefined ? undefined : Number(share);
      if (skipShare !== undefined && !Number.isFinite(skipShare))
        throw chorusError('FIELD_INVALID', {
          field: '--skip-share',
          problem: 'must be a number from 0 to 1',
        });
      const numbers = {
        maxMembers: whole(opts, 'maxMembers', '--max-members'),
        joinsPerMinute: whole(opts, 'joinsPerMinute', '--joins-per-minute'),
        skipVotes: whole(opts, 'skipVotes', '--skip-votes'),
      };
      const patch: SettingsPatch = {
        ...(policy !== undefined
          ? { joinPolicy: policy }
          : typeof passcode === 'string'
            ? { joinPolicy: 'passcode' as const }
            : {}),
        ...Object.fromEntries(Object.entries(numbers).filter(([, v]) => v !== undefined)),
        ...(skipShare !== undefined ? { skipShare } : {}),
        ...(opts['private'] ? { public: false } : opts['public'] ? { public: true } : {}),
      };
      const changing = Object.keys(patch).length > 0 || passcode !== undefined;
      const room = changing
        ? await client.updateSettings(roomId, patch, passcode)
        : await client.room(roomId, { limit: 0 });
      print(opts, room.settings, () => renderSettings(room));
    },
  },
  {
    usage: 'pending <room>',
    description: 'host: the join requests waiting for you (join policy "approval"), oldest first',
    async run([roomId = ''], opts) {
      const room = await (await needToken(opts, roomId)).room(roomId, { limit: 0 });
      print(opts, room.pendingJoins, () =>
        room.pendingJoins.length === 0
          ? 'no join request waits'
          : room.pendingJoins.map((p) => `${p.name}  ${p.memberId}`).join('\n'),
      );
    },
  },
  decide(true),
  decide(false),
];
