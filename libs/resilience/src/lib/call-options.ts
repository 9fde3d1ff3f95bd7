/** Per-call settings. Retries happen only when `idempotent` or `idempotencyKey` is set. */
export interface CallOptions {
  readonly idempotent?: boolean;
  /** Makes a non-idempotent call (a charge) safe to retry; passed to every attempt. */
  readonly idempotencyKey?: string;
  /** This call's attempt timeout instead of the dependency's. */
  readonly timeoutMs?: number;
  /** Cancels the call (not counted as a failure). */
  readonly signal?: AbortSignal;
}

/** Where and how one attempt is made. */
export interface AttemptTarget {
  readonly endpointId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Aborted when the attempt times out or the call is cancelled. */
  readonly signal: AbortSignal;
  readonly idempotencyKey?: string;
}

/** Makes one attempt of the call on the given endpoint. */
export type Attempt<T> = (target: AttemptTarget) => Promise<T>;
