import { HttpException, HttpStatus } from '@nestjs/common';
import { isNodeFailure, RetryableWriteError, StaleTopologyError } from '@stayline/database';
import { RequestContext } from '@stayline/observability';
import { ResilienceError, toUnavailableResponse } from '@stayline/resilience';

/** The one error shape every stayline endpoint answers with: `{ error, message, requestId }`. */
export interface ErrorBody {
  error: string;
  message: string;
  requestId?: string;
  details?: unknown;
}

const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'too_many_requests',
  500: 'internal_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

export function errorCode(status: number): string {
  return CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
}

/**
 * Turns anything thrown into a status and a safe body. Unknown errors become a
 * 500 with a generic message: no stack trace or internal detail leaks.
 */
export function toErrorBody(err: unknown): {
  status: number;
  body: ErrorBody;
  headers?: Record<string, string>;
} {
  const requestId = RequestContext.requestId();
  // an essential dependency failed or its breaker is open: fail fast, and say when to come back
  if (err instanceof ResilienceError) {
    const unavailable = toUnavailableResponse(err, requestId);
    return {
      status: unavailable.status,
      body: { ...unavailable.body },
      headers: { ...unavailable.headers },
    };
  }
  // the primary is unreachable or changing (a failover): a pause, not a bug; a client
  // retries, with the same Idempotency-Key for a write whose outcome is unknown
  if (
    err instanceof RetryableWriteError ||
    err instanceof StaleTopologyError ||
    (!(err instanceof HttpException) && isNodeFailure(err))
  ) {
    return {
      status: HttpStatus.SERVICE_UNAVAILABLE,
      body: {
        error: 'database_unavailable',
        message: 'the database is unreachable or failing over; retry shortly',
        requestId,
      },
      headers: { 'Retry-After': '1' },
    };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const res = err.getResponse();
    if (typeof res === 'string')
      return { status, body: { error: errorCode(status), message: res, requestId } };
    const r = res as { error?: unknown; message?: unknown; details?: unknown };
    const message = Array.isArray(r.message)
      ? r.message.join('; ')
      : String(r.message ?? err.message);
    const error =
      typeof r.error === 'string' && /^[a-z_]+$/.test(r.error) ? r.error : errorCode(status);
    return {
      status,
      body: {
        error,
        message,
        requestId,
        ...(r.details !== undefined ? { details: r.details } : {}),
      },
    };
  }
  // body-parser errors carry an HTTP status and a type (entity.parse.failed, entity.too.large...)
  const e = err as {
    status?: number;
    statusCode?: number;
    type?: string;
    expose?: boolean;
    message?: string;
  };
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message =
      e.type === 'entity.parse.failed'
        ? 'malformed JSON body'
        : e.type === 'entity.too.large'
          ? 'request body too large'
          : e.expose && e.message
            ? e.message
            : 'bad request';
    return { status, body: { error: errorCode(status), message, requestId } };
  }
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    body: { error: 'internal_error', message: 'internal error', requestId },
  };
}
