import { RequestContext } from '@stayline/observability';
import type { ResilienceError } from './errors';

/** The JSON body of a 503 for a dependency that failed or whose breaker is open. */
export interface UnavailableBody {
  readonly error: 'dependency_unavailable';
  readonly message: string;
  readonly dependency: string;
  readonly requestId?: string;
}

/** Status, headers and body of the answer to a failed essential call. */
export interface UnavailableResponse {
  readonly status: 503;
  readonly headers: { readonly 'Retry-After': string };
  readonly body: UnavailableBody;
}

/** `Retry-After` in whole seconds: rounded up, at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

/**
 * The HTTP answer for a ResilienceError: 503, `Retry-After` from the breaker's
 * remaining open time, and a JSON body naming the dependency and the request.
 */
export function toUnavailableResponse(
  error: ResilienceError,
  requestId = RequestContext.requestId(),
): UnavailableResponse {
  return {
    status: 503,
    headers: { 'Retry-After': String(retryAfterSeconds(error.retryAfterMs)) },
    body: {
      error: 'dependency_unavailable',
      message: error.message,
      dependency: error.dependency,
      requestId,
    },
  };
}
