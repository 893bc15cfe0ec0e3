// The one place REST maps errors to HTTP: ChorusError codes to statuses (docs/architecture.md section 4),
// Fastify's own request errors to INVALID_ARGUMENT and friends, anything else to a logged 500
// that never shows a stack trace.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ChorusError, type ErrorCode, type ErrorInfo } from '../../domain/index.ts';

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
    return {
      code: 'INVALID_ARGUMENT',
      message: `${path} ${first?.message ?? 'is invalid'}`,
      details: {
        validation: err.validation.map((v) => ({
          path: v.instancePath,
          message: v.message,
          params: v.params,
        })),
      },
    };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'INVALID_ARGUMENT', message: 'the request body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        code: 'INVALID_ARGUMENT',
        message: 'send the body as JSON, with Content-Type: application/json',
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: 'INVALID_ARGUMENT', message: 'the JSON body is empty' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'INVALID_ARGUMENT', message: `the body is not valid: ${err.message}` };
  }
  if (err instanceof SyntaxError || (err as { type?: string }).type === 'entity.parse.failed') {
    return { code: 'INVALID_ARGUMENT', message: `the body is not valid JSON: ${err.message}` };
  }
  const status = err.statusCode ?? 500;
  if (status === 404) return { code: 'NOT_FOUND', message: err.message };
  if (status === 429) return { code: 'RESOURCE_EXHAUSTED', message: err.message };
  if (status >= 400 && status < 500) return { code: 'INVALID_ARGUMENT', message: err.message };
  return null;
}

export function toErrorInfo(err: unknown): ErrorInfo | null {
  if (err instanceof ChorusError) return err.toInfo();
  if (err instanceof Error) return fromFastify(err as FastifyError);
  return null;
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const info = toErrorInfo(err) ?? {
    code: 'INTERNAL' as const,
    message: 'internal error; it has been logged',
  };
  const status = HTTP_STATUS[info.code];
  if (status >= 500 && info.code === 'INTERNAL') request.log.error({ err }, 'request failed');
  if (info.code === 'UNAVAILABLE') void reply.header('retry-after', '1');
  if (info.code === 'RESOURCE_EXHAUSTED') {
    const ms = (info.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    void reply.header('retry-after', String(typeof ms === 'number' ? Math.max(1, Math.ceil(ms / 1000)) : 1));
  }
  void reply.code(status).type('application/json; charset=utf-8').send({ error: info });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void reply.code(404).send({
    error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` },
  });
}
