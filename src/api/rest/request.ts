// What every REST feature plugin reads from a request the same way: the bearer token, the
// idempotency key, and the error answers a route documents. One copy, so that the routes agree.

import type { FastifyRequest } from 'fastify';
import { ErrorSchema } from './schemas.ts';

/** The error answers of a route that reads a room or writes to one (OpenAPI only; errors.ts answers). */
export const Errors = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  404: ErrorSchema,
  409: ErrorSchema,
};

/**
 * The token of `Authorization: Bearer T`: undefined without the header, '' when the header is
 * malformed (the service then says the token is missing, as for no header).
 */
export function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

/** The Idempotency-Key header: a retried write with the same key is applied once. */
export function commandId(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  return typeof key === 'string' ? key : undefined;
}
