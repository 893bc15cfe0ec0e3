// The one closed set of error codes (docs/architecture.md section 4), named as gRPC names them. Each transport
// maps a code to its own status in exactly one place; nothing else in the code invents codes.
// Every error Chorus gives is one of the named reasons of reasons.ts (its code, message and
// details); `wireError` is the one shape both transports send, with the reason in `details.reason`.

export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'FAILED_PRECONDITION',
  'ABORTED',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export type ErrorDetails = Readonly<Record<string, unknown>>;

/** An error as plain data: what the state machine returns and what every transport serialises. */
export interface ErrorInfo {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: ErrorDetails;
  /** Its name in reasons.ts (absent on errors made before reasons had names, or by other systems). */
  readonly reason?: string;
}

/** The thrown form of ErrorInfo, for the layers that use exceptions (APIs, stores, CLI). */
export class ChorusError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;
  readonly reason: string | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails, reason?: string) {
    super(message);
    this.name = 'ChorusError';
    this.code = code;
    this.details = details;
    this.reason = reason;
  }

  static from(info: ErrorInfo): ChorusError {
    return new ChorusError(info.code, info.message, info.details, info.reason);
  }

  toInfo(): ErrorInfo {
    const info: ErrorInfo =
      this.details === undefined
        ? { code: this.code, message: this.message }
        : { code: this.code, message: this.message, details: this.details };
    return this.reason === undefined ? info : { ...info, reason: this.reason };
  }
}

/**
 * An error as both transports send it: `{code, message, details}`, the reason in `details.reason`
 * (a client reads it there; a reason given inside details by a store that names its own wins).
 */
export function wireError(info: ErrorInfo): { code: ErrorCode; message: string; details?: ErrorDetails } {
  const { code, message, details, reason } = info;
  if (reason === undefined) return details === undefined ? { code, message } : { code, message, details };
  return { code, message, details: { reason, ...details } };
}

/** The reason of a wire error's details (the client side), if it names one. */
export function reasonOf(details: ErrorDetails | undefined): string | undefined {
  const reason = details?.['reason'];
  return typeof reason === 'string' ? reason : undefined;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

export function errorInfo(code: ErrorCode, message: string, details?: ErrorDetails): ErrorInfo {
  return details === undefined ? { code, message } : { code, message, details };
}
