// Error reasons, area: access (../access.ts): hosts, co-hosts, removal, bans and recovery keys.
// Part of the one registry (../reasons.ts builds it); add a reason of this area here, and to the
// README's table.

import { reason } from './spec.ts';

// In a pure call (see spec.ts): a bundle that gives no refusals (the web page) drops the table.
export const ACCESS_REASONS = /* @__PURE__ */ (() =>
  ({
    // ---- Hosts, co-hosts, removal and bans (../access.ts) --------------------------------------
    MEMBER_NOT_FOUND: reason(
      'NOT_FOUND',
      (a: { memberId: string }) => `no member ${a.memberId} in this room`,
      ({ memberId }) => ({ memberId }),
    ),
    ROLE_OF_HOST: reason(
      'FAILED_PRECONDITION',
      () => 'the host’s role changes only by handing the room over',
    ),
    REMOVE_MEMBER_NOT_ALLOWED: reason('PERMISSION_DENIED', (a: { why: string }) => a.why),
    RECOVERY_KEY_WRONG: reason('PERMISSION_DENIED', () => 'this is not the room’s recovery key'),
    MEMBER_BANNED: reason(
      'PERMISSION_DENIED',
      (a: { roomId: string }) => `you are banned from room ${a.roomId}`,
      ({ roomId }) => ({ roomId }),
    ),
    RECOVERY_KEY_RETIRED: reason(
      'PERMISSION_DENIED',
      () =>
        'this recovery key was retired (the room was handed over, or its host made a new key); the host holds the current one',
    ),
    RECOVERY_KEY_REUSED: reason(
      'INVALID_ARGUMENT',
      () => 'a recovery key is never used twice: make a new one',
    ),
  }) as const)();
