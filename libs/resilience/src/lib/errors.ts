/** Machine-readable kind of a {@link ResilienceError}. */
export type ResilienceErrorCode =
  'breaker_open' | 'call_timeout' | 'bulkhead_rejected' | 'dependency_unavailable';

/**
 * A failure the resilience layer produced or wrapped for a dependency: the
 * call did not get a usable answer. Client errors (4xx) are never wrapped.
 */
export abstract class ResilienceError extends Error {
  /** What kind of failure this is. */
  abstract readonly code: ResilienceErrorCode;

  protected constructor(
    /** The dependency the call was for. */
    readonly dependency: string,
    message: string,
    /** When it is worth calling again, in ms (0: now). Drives `Retry-After`. */
    readonly retryAfterMs = 0,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The breaker is open: the call was refused without touching the callee. */
export class BreakerOpenError extends ResilienceError {
  readonly code = 'breaker_open';

  constructor(
    dependency: string,
    retryAfterMs: number,
    /** The endpoint, or undefined when all are open. */ readonly endpointId?: string,
  ) {
    const where = endpointId === undefined ? 'every endpoint' : `endpoint ${endpointId}`;
    super(
      dependency,
      `${dependency}: circuit open on ${where}; next trial in ${Math.ceil(retryAfterMs)} ms`,
      retryAfterMs,
    );
  }
}

/** The callee did not answer within the call's timeout (counts as a failure). */
export class CallTimeoutError extends ResilienceError {
  readonly code = 'call_timeout';

  constructor(
    dependency: string,
    /** The timeout that expired. */ readonly timeoutMs: number,
    readonly endpointId?: string,
  ) {
    super(
      dependency,
      `${dependency}: no answer within ${timeoutMs} ms${endpointId ? ` from ${endpointId}` : ''}`,
    );
  }
}

/** The dependency's bulkhead is full: too many calls to it are already in flight. */
export class BulkheadRejectedError extends ResilienceError {
  readonly code = 'bulkhead_rejected';

  constructor(
    dependency: string,
    /** The configured concurrency limit. */ readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {
    super(
      dependency,
      `${dependency}: bulkhead full (${maxConcurrent} calls in flight, ${maxQueue} queued); call refused`,
    );
  }
}

/** The call failed (refused, 5xx, no endpoint left); `cause` holds what happened. */
export class DependencyUnavailableError extends ResilienceError {
  readonly code = 'dependency_unavailable';

  constructor(dependency: string, detail: string, retryAfterMs = 0, options?: ErrorOptions) {
    super(dependency, `${dependency} unavailable: ${detail}`, retryAfterMs, options);
  }
}

/**
 * No endpoint of the dependency is known (none registered, or all gone): the
 * call was not sent anywhere, so, unlike a timeout, its outcome is certain.
 */
export class NoEndpointError extends DependencyUnavailableError {
  constructor(dependency: string) {
    super(dependency, 'no endpoint to call');
  }
}
