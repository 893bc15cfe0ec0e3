// The one place REST maps errors to HTTP: ChorusError codes to statuses (docs/architecture.md section 4),
// Fastify's own request errors to INVALID_ARGUMENT and friends, anything else to a logged 500
// that never shows a stack trace.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ChorusError, refusal, wireError, type ErrorCode, type ErrorInfo } from '../../domain/index.ts';

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  INTERNAL: 500,
};

/** Fastify's request-level failures, in words a person can act on. */
function fromFastify(err: FastifyError): ErrorInfo | null {
  if (err.validation) {
    const first = err.validation[0];
    const where = err.validationContext ?? 'request';
    const path = first?.instancePath ? `${where}${first.instancePath.replaceAll('/', '.')}` : where;
    return refusal('VALIDATION_FAILED', {
      path,
      problem: first?.message ?? 'is invalid',
      validation: err.validation.map((v) => ({
        path: v.instancePath,
        message: v.message,
        params: v.params,
      })),
    });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return refusal('BODY_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return refusal('BODY_NOT_JSON_TYPE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return refusal('BODY_EMPTY');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return refusal('BODY_INVALID', { problem: err.message });
  }
  if (err instanceof SyntaxError || (err as { type?: string }).type === 'entity.parse.failed') {
    return refusal('BODY_NOT_JSON', { problem: err.message });
  }
  const status = err.statusCode ?? 500;
  if (status === 404) return refusal('REQUEST_NOT_FOUND', { problem: err.message });
  if (status === 429) return refusal('REQUEST_TOO_MANY', { problem: err.message });
  if (status >= 400 && status < 500) return refusal('REQUEST_REFUSED', { problem: err.message });
  return null;
}

export function toErrorInfo(err: unknown): ErrorInfo | null {
  if (err instanceof ChorusError) return err.toInfo();
  if (err instanceof Error) return fromFastify(err as FastifyError);
  return null;
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const info = toErrorInfo(err) ?? refusal('INTERNAL_LOGGED');
  const status = HTTP_STATUS[info.code];
  if (status >= 500 && info.code === 'INTERNAL') request.log.error({ err }, 'request failed');
  if (info.code === 'UNAVAILABLE') void reply.header('retry-after', '1');
  if (info.code === 'RESOURCE_EXHAUSTED') {
    const ms = (info.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    void reply.header('retry-after', String(typeof ms === 'number' ? Math.max(1, Math.ceil(ms / 1000)) : 1));
  }
  void reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ error: wireError(info) });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  const error = refusal('ROUTE_NOT_FOUND', { method: request.method, path: request.url.split('?')[0] ?? '' });
  void reply.code(404).send({ error: wireError(error) });
}
