/**
 * Whether an error is the caller's fault (a 4xx answer, a validation failure),
 * which proves the callee alive: it does not count against the breaker, is not
 * retried and is not hidden behind a fallback.
 *
 * Recognised: an `isClientError: true` flag; an HTTP status 400-499 as
 * `status`, `statusCode`, `getStatus()` (Nest's HttpException) or
 * `response.status`; class-validator's `ValidationError` (or an array of
 * them) and zod's `ZodError`. 408 and 429
 * are left out: they say the callee is overloaded, which is a failure.
 */
export function isClientError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (Array.isArray(error)) return error.length > 0 && error.every(isValidationError);
  const e = error as Record<string, unknown>;
  if (e['isClientError'] === true || isValidationError(error)) return true;
  return isClientStatus(httpStatusOf(e));
}

// class-validator's ValidationError is a plain class (no `name`), zod's ZodError an Error.
function isValidationError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const name = (error as { name?: unknown }).name ?? error.constructor?.name;
  return name === 'ValidationError' || name === 'ZodError';
}

function httpStatusOf(e: Record<string, unknown>): unknown {
  if (typeof e['getStatus'] === 'function') return (e['getStatus'] as () => unknown).call(e);
  const response = e['response'];
  const fromResponse =
    typeof response === 'object' && response !== null
      ? (response as Record<string, unknown>)['status']
      : undefined;
  return e['statusCode'] ?? e['status'] ?? fromResponse;
}

function isClientStatus(status: unknown): boolean {
  return (
    typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429
  );
}
