// How a reason is declared (the area files beside this one use it): its code (../errors.ts), its
// message template and, when it carries any, its details. Templates are pure: no clock, no I/O.

import type { ErrorCode, ErrorDetails } from '../errors.ts';

export interface ReasonSpec<A> {
  readonly code: ErrorCode;
  readonly message: (args: A) => string;
  /** What the error carries besides its reason; none when absent. */
  readonly details?: (args: A) => ErrorDetails;
}

// Pure: a bundle (the web page) that imports the domain without its errors drops the reasons.
// esbuild does not carry this annotation to the calls in other files, so each area file also
// builds its table inside a `/* @__PURE__ */` call (without it the page's bundle grows by 18 kB).
/* @__NO_SIDE_EFFECTS__ */
export function reason<A = void>(
  code: ErrorCode,
  message: (args: A) => string,
  details?: (args: A) => ErrorDetails,
): ReasonSpec<A> {
  return details ? { code, message, details } : { code, message };
}

/** `{ field }`: the request field at fault. */
export const field = ({ field }: { field: string }): ErrorDetails => ({ field });
