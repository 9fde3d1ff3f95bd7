/** Per-call settings. Retries happen only when `idempotent` or `retryKey` is set. */
export interface CallOptions {
  readonly idempotent?: boolean;
  /**
   * Marks a non-idempotent call (a charge) as safe to retry because the callee
   * deduplicates it by this key, which the payload already carries (a charge's
   * reservation id). The policy sends it nowhere: it only allows the retry, and
   * hands the key to every attempt.
   */
  readonly retryKey?: string;
  /** This call's attempt timeout instead of the dependency's. */
  readonly timeoutMs?: number;
  /** Cancels the call (not counted as a failure). */
  readonly signal?: AbortSignal;
  /** What the call does (`payment.charge`): names its spans in a trace. */
  readonly operation?: string;
}

/** Where and how one attempt is made. */
export interface AttemptTarget {
  readonly endpointId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Aborted when the attempt times out or the call is cancelled. */
  readonly signal: AbortSignal;
  /** The call's `retryKey`, the same on every attempt. */
  readonly retryKey?: string;
}

/** Makes one attempt of the call on the given endpoint. */
export type Attempt<T> = (target: AttemptTarget) => Promise<T>;
