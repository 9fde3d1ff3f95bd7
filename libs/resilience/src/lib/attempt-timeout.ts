import { TaskCancelledError, TimeoutStrategy, timeout, type TimeoutPolicy } from 'cockatiel';
import { isCancellation } from './circuit-breaker';
import { CallTimeoutError } from './errors';

/**
 * The timeout of each attempt (cockatiel's, aggressive: the caller stops
 * waiting even if the callee never answers), run inside the breaker so that a
 * timeout counts as a failure. Names the cause of an aborted attempt, whatever
 * its client threw on abort: CallTimeoutError after the timeout, a
 * cancellation (not counted) when the caller gave up first.
 */
export class AttemptTimeout {
  private readonly policies = new Map<number, TimeoutPolicy>();

  constructor(private readonly dependency: string) {}

  /** Runs `fn` with a signal aborted after `timeoutMs` or when `outer` aborts. */
  run<T>(
    timeoutMs: number,
    endpointId: string,
    outer: AbortSignal,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const explain = (error: unknown, signal: AbortSignal) => {
      if (outer.aborted)
        return isCancellation(error) ? error : new TaskCancelledError('call cancelled');
      if (signal.aborted || isCancellation(error)) {
        return new CallTimeoutError(this.dependency, timeoutMs, endpointId);
      }
      return error;
    };
    return this.policy(timeoutMs)
      .execute(async ({ signal }) => {
        try {
          return await fn(signal);
        } catch (error) {
          throw explain(error, signal);
        }
      }, outer)
      .catch((error: unknown) => {
        throw explain(error, outer);
      });
  }

  private policy(ms: number): TimeoutPolicy {
    let policy = this.policies.get(ms);
    if (!policy) {
      policy = timeout(ms, TimeoutStrategy.Aggressive).dangerouslyUnref();
      this.policies.set(ms, policy);
    }
    return policy;
  }
}
