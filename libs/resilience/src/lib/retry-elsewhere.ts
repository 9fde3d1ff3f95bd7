import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { countsAsFailure } from './circuit-breaker';
import type { ResolvedDependencyConfig } from './dependency-options';
import { BreakerOpenError, BulkheadRejectedError, NoEndpointError } from './errors';

/** An attempt that failed without sending anything: its endpoint's breaker refused it, or it was gone. */
const unsent = (error: unknown) =>
  error instanceof BreakerOpenError || error instanceof NoEndpointError;

/**
 * Runs a safe call (idempotent, or carrying a `retryKey`) up to
 * `maxAttempts` times, each attempt on an endpoint this call has not tried,
 * after cockatiel's exponential backoff with decorrelated jitter. Stops at a
 * client error, a full bulkhead, or when `pickNext` has no endpoint left.
 *
 * A later attempt refused by its endpoint's breaker (or finding it gone) sent nothing, but an earlier
 * one did and its outcome is unknown (a timeout, a cut connection): the call
 * then fails with that earlier error, never with the breaker's, so a caller that
 * reads "breaker open" as "nothing reached the callee" is never misled (a
 * booking abandoned while its first charge attempt had gone through).
 */
export function retryElsewhere<T>(
  { maxAttempts, baseDelayMs, maxDelayMs }: ResolvedDependencyConfig['retry'],
  first: string,
  pickNext: () => string | undefined,
  attemptOn: (endpointId: string, attempt: number) => Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  let next = first;
  let made = 0;
  const worthRetrying = (error: Error) => {
    if (made >= maxAttempts || !countsAsFailure(error)) return false;
    if (error instanceof BulkheadRejectedError) return false;
    const picked = pickNext();
    if (picked !== undefined) next = picked;
    return picked !== undefined;
  };
  let sent: { error: unknown } | undefined;
  const once = async () => {
    try {
      return await attemptOn(next, ++made);
    } catch (error) {
      if (!unsent(error)) sent = { error };
      throw error;
    }
  };
  const backoff = new ExponentialBackoff({ initialDelay: baseDelayMs, maxDelay: maxDelayMs });
  return retry(handleWhen(worthRetrying), { maxAttempts: maxAttempts - 1, backoff })
    .dangerouslyUnref()
    .execute(once, signal)
    .catch((error: unknown) => {
      throw unsent(error) && sent ? sent.error : error;
    });
}
