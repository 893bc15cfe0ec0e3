// The one place gRPC maps errors: ChorusError codes (docs/architecture.md section 4, already named as gRPC
// names them) to status codes, with the error object in the trailers; anything unexpected becomes
// a logged INTERNAL that never shows a stack trace.

import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import {
  ChorusError,
  isErrorCode,
  reasonOf,
  refusal,
  wireError,
  type ErrorCode,
  type ErrorInfo,
} from '../../domain/index.ts';

export const GRPC_STATUS: Readonly<Record<ErrorCode, status>> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  ABORTED: status.ABORTED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  INTERNAL: status.INTERNAL,
};

/** Trailer with the code's name, for people reading raw trailers. */
export const ERROR_CODE_KEY = 'chorus-error-code';
/** Binary trailer: JSON `{code, message, details}`, the same object as the REST API's `error`. */
export const ERROR_DETAILS_KEY = 'chorus-error-details-bin';

export interface ErrorLogger {
  error(obj: object, msg?: string): void;
}

/** The status a failed call ends with. Unknown failures are logged here and answered as INTERNAL. */
export function toStatus(err: unknown, logger: ErrorLogger, method: string): Partial<StatusObject> {
  let info: ErrorInfo;
  if (err instanceof ChorusError) {
    info = err.toInfo();
  } else {
    logger.error({ err, method }, 'gRPC call failed');
    info = refusal('INTERNAL_LOGGED');
  }
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_KEY, info.code);
  metadata.set(ERROR_DETAILS_KEY, Buffer.from(JSON.stringify(wireError(info))));
  return { code: GRPC_STATUS[info.code], details: info.message, metadata };
}

const CODE_OF_STATUS = new Map<status, ErrorCode>(
  Object.entries(GRPC_STATUS).map(([code, s]) => [s, code as ErrorCode]),
);

/** The statuses Chorus never sends, as the closest code (a proxy or grpc-js itself may send them). */
const OTHER_STATUS: Partial<Record<status, ErrorCode>> = {
  [status.CANCELLED]: 'ABORTED',
  [status.UNIMPLEMENTED]: 'NOT_FOUND',
  [status.OUT_OF_RANGE]: 'INVALID_ARGUMENT',
};

/**
 * The client side: a failed call back into a ChorusError, from the trailers when the server is
 * Chorus, else from the status (connection failures and the like are UNAVAILABLE).
 */
export function fromServiceError(err: ServiceError): ChorusError {
  const raw = err.metadata?.get(ERROR_DETAILS_KEY)[0];
  if (raw instanceof Buffer) {
    try {
      const info = JSON.parse(raw.toString('utf8')) as {
        code?: unknown;
        message?: unknown;
        details?: unknown;
      };
      if (isErrorCode(info.code) && typeof info.message === 'string') {
        const details =
          typeof info.details === 'object' && info.details !== null
            ? (info.details as Record<string, unknown>)
            : undefined;
        return new ChorusError(info.code, info.message, details, reasonOf(details));
      }
    } catch {
      // Not ours: fall through to the status.
    }
  }
  return new ChorusError(CODE_OF_STATUS.get(err.code) ?? OTHER_STATUS[err.code] ?? 'INTERNAL', err.details);
}
