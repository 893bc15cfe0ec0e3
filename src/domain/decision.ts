// What a command handler decides, whichever module handles the command (apply.ts and its apply-*.ts
// modules: queue, votes, playback, room; access.ts's roles and removals): refuse, answer without a
// change, or change the room. apply.ts's `finish` turns a decision into the output (version,
// remembered id, events).

import type { ErrorInfo } from './errors.ts';
import type { CommandValue, RoomEventBody, RoomState } from './types.ts';

export type Decision =
  | { readonly kind: 'error'; readonly error: ErrorInfo }
  | { readonly kind: 'noop'; readonly value: CommandValue }
  | {
      readonly kind: 'change';
      readonly state: RoomState;
      readonly events: readonly RoomEventBody[];
      readonly value: CommandValue;
    };
