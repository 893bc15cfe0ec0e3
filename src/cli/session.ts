// What every `chorus` client command shares: its options, the saved tokens, the transport and the
// node it talks to, and how it prints. Tokens from create-room/join/recover are saved per server,
// room and identity (`--as NAME`, default none), so later commands need no --token and several
// people on one machine (the host and a guest) stay apart. A private room's invite (from
// create-room, join --invite, invite) is saved per server and room: it is the room's, not a
// person's, and reads (queue, history, watch) and later joins send it by themselves. The gRPC client is loaded only for
// --transport grpc: a REST command starts in a fraction of a second.

import type { Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { TRANSPORTS, type ChorusClient, type Transport } from './api-client.ts';
import { cliError } from './errors.ts';
import type { GrpcClient } from './grpc-client.ts';
import { RestClient } from './rest-client.ts';

export type Opts = Record<string, string | boolean | undefined>;

export interface ClientCommand {
  readonly usage: string;
  readonly description: string;
  readonly options?: readonly Option[];
  run(args: readonly string[], opts: Opts): Promise<void>;
}

/** A string option's value, or undefined when it was not given. */
export function text(opts: Opts, name: string): string | undefined {
  const value = opts[name];
  return typeof value === 'string' ? value : undefined;
}

/** " --as NAME" when the command acts as a named identity (to repeat it in advice), else "". */
export function asFlag(opts: Opts): string {
  const as = text(opts, 'as');
  return as ? ` --as ${as}` : '';
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

async function storeCredentials(all: Record<string, string>): Promise<void> {
  await mkdir(dirname(credentialsFile()), { recursive: true });
  await writeFile(credentialsFile(), JSON.stringify(all, null, 2), { mode: 0o600 });
}

/** Where a token is saved: per server and room, and per identity when `--as NAME` is given. */
function credentialKey(server: string, roomId: string, opts: Opts): string {
  return `${server} ${roomId}${text(opts, 'as') ? ` as ${text(opts, 'as')}` : ''}`;
}

export async function savedToken(server: string, roomId: string, opts: Opts): Promise<string | undefined> {
  return (await loadCredentials())[credentialKey(server, roomId, opts)];
}

export async function saveToken(server: string, roomId: string, opts: Opts, token: string): Promise<void> {
  const all = await loadCredentials();
  all[credentialKey(server, roomId, opts)] = token;
  await storeCredentials(all);
}

/** A random key this CLI profile keeps beside its tokens and sends on join: a ban refuses it again. */
export async function clientKey(): Promise<string> {
  const all = await loadCredentials();
  const kept = all[CLIENT_KEY];
  if (kept) return kept;
  all[CLIENT_KEY] = randomBytes(18).toString('base64url');
  await storeCredentials(all);
  return all[CLIENT_KEY];
}

/** Never a token key (those are "SERVER ROOM[ as NAME]"). */
const CLIENT_KEY = '~client-key';

/** Where a room's invite is saved: never a token key either (it starts with "~"). */
function inviteKey(server: string, roomId: string): string {
  return `~invite ${server} ${roomId}`;
}

export async function saveInvite(server: string, roomId: string, invite: string): Promise<void> {
  const all = await loadCredentials();
  all[inviteKey(server, roomId)] = invite;
  await storeCredentials(all);
}

/** The invite to send for `roomId`: --invite if given, else the one saved for the room, if any. */
export async function inviteOf(opts: Opts, server: string, roomId: string): Promise<string | undefined> {
  return text(opts, 'invite') ?? (await loadCredentials())[inviteKey(server, roomId)];
}

// ---- Transports ----------------------------------------------------------------------------------

export const DEFAULT_SERVER: Readonly<Record<Transport, string>> = {
  rest: 'http://127.0.0.1:8080',
  grpc: '127.0.0.1:50051',
};

export function transportOf(opts: Opts): Transport {
  const transport = opts['transport'] ?? 'rest';
  if (!(TRANSPORTS as readonly unknown[]).includes(transport)) {
    throw cliError('TRANSPORT_UNKNOWN', { choices: TRANSPORTS.join(' or ') });
  }
  return transport as Transport;
}

/** The node to talk to: a URL for REST, HOST:PORT (or grpc://HOST:PORT) for gRPC. */
function serverOf(opts: Opts): string {
  const transport = transportOf(opts);
  const given = text(opts, 'server') ?? DEFAULT_SERVER[transport];
  if (transport === 'rest') return given.replace(/\/+$/, '');
  const address = given.replace(/^grpc:\/\//, '').replace(/\/+$/, '');
  if (address.includes('/'))
    throw cliError('GRPC_SERVER_NOT_ADDRESS', { example: DEFAULT_SERVER.grpc, given });
  return address;
}

/** gRPC clients opened by this command, closed when it ends so the process can exit. */
const openGrpcClients = new Set<GrpcClient>();

export function closeClients(): void {
  for (const client of openGrpcClients) client.close();
  openGrpcClients.clear();
}

/**
 * A client of the node the options name, with `token` if given, else --token, else the token
 * saved for `roomId` and this identity (none: an anonymous client).
 */
export async function clientFor(opts: Opts, roomId?: string, token?: string): Promise<ChorusClient> {
  const server = serverOf(opts);
  let bearer = token ?? text(opts, 'token');
  if (!bearer && roomId) bearer = await savedToken(server, roomId, opts);
  if (transportOf(opts) === 'rest') return new RestClient({ server, token: bearer });
  const { GrpcClient } = await import('./grpc-client.ts');
  const client = new GrpcClient({ server, token: bearer });
  openGrpcClients.add(client);
  return client;
}

/** A client with this identity's token for the room; refuses at once when there is none. */
export async function needToken(opts: Opts, roomId: string): Promise<ChorusClient> {
  const client = await clientFor(opts, roomId);
  if (!opts['token'] && !(await savedToken(client.server, roomId, opts))) {
    throw cliError('NO_SAVED_TOKEN', { roomId, as: asFlag(opts) });
  }
  return client;
}

/**
 * `join` over a saved token: that token may be the host's, and the host would lose the host
 * commands. On a terminal, ask; otherwise refuse and say how to go on.
 */
export async function confirmReplace(roomId: string, opts: Opts): Promise<void> {
  const refusal = cliError('TOKEN_ALREADY_SAVED', { roomId, as: asFlag(opts) });
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw refusal;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `A token for room ${roomId}${asFlag(opts)} is already saved (perhaps the host's). Replace it? [y/N] `,
    );
    if (!/^y(es)?$/i.test(answer.trim())) throw refusal;
  } finally {
    rl.close();
  }
}

// ---- Output --------------------------------------------------------------------------------------

/** `value` as JSON with --json, else the human text. */
export function print(opts: Opts, value: unknown, human: () => string): void {
  process.stdout.write(opts['json'] ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}
