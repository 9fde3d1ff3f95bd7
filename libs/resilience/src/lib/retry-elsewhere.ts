import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { countsAsFailure } from './circuit-breaker';
import type { ResolvedDependencyConfig } from './dependency-options';
import { BulkheadRejectedError } from './errors';

/**
 * Runs a safe call (idempotent, or carrying a `retryKey`) up to
 * `maxAttempts` times, each attempt on an endpoint this call has not tried,
 * after cockatiel's exponential backoff with decorrelated jitter. Stops at a
 * client error, a full bulkhead, or when `pickNext` has no endpoint left.
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
  const backoff = new ExponentialBackoff({ initialDelay: baseDelayMs, maxDelay: maxDelayMs });
  return retry(handleWhen(worthRetrying), { maxAttempts: maxAttempts - 1, backoff })
    .dangerouslyUnref()
    .execute(() => attemptOn(next, ++made), signal);
}
