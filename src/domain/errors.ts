// The one closed set of error codes (docs/architecture.md section 4), named as gRPC names them. Each transport
// maps a code to its own status in exactly one place; nothing else in the code invents codes.

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
}

/** The thrown form of ErrorInfo, for the layers that use exceptions (APIs, stores, CLI). */
export class ChorusError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(message);
    this.name = 'ChorusError';
    this.code = code;
    this.details = details;
  }

  static from(info: ErrorInfo): ChorusError {
    return new ChorusError(info.code, info.message, info.details);
  }

  toInfo(): ErrorInfo {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

export function errorInfo(code: ErrorCode, message: string, details?: ErrorDetails): ErrorInfo {
  return details === undefined ? { code, message } : { code, message, details };
}
