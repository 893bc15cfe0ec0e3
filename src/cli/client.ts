// The client commands of `chorus`, over REST or gRPC (`--transport`): human-readable output by
// default, `--json` for scripts; a failure prints `CODE: message` (and advice, errors.ts) and exits
// 1. The commands live by feature: rooms (list, create, join, read, watch), queue (tracks, votes,
// playback), access (hosts, members, joining); session.ts holds what they share.

import { accessCommands } from './commands/access.ts';
import { queueCommands } from './commands/queue.ts';
import { roomCommands } from './commands/rooms.ts';
import type { ClientCommand } from './session.ts';

export { closeClients, DEFAULT_SERVER, type ClientCommand } from './session.ts';

export const clientCommands: readonly ClientCommand[] = [
  ...roomCommands,
  ...queueCommands,
  ...accessCommands,
];
