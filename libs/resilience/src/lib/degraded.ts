import type { ResilienceError } from './errors';

/** A fallback's answer: the caller shows it, marked as degraded, with the reason. */
export interface Degraded<T> {
  readonly value: T;
  readonly degraded: true;
  /** Why the real answer is missing, e.g. "recommendation: circuit open on every endpoint; ...". */
  readonly reason: string;
}

/** The dependency's own answer. */
export interface Fresh<T> {
  readonly value: T;
  readonly degraded: false;
}

/** What a call with a fallback returns: tell them apart by `degraded`. */
export type CallOutcome<T, F = T> = Fresh<T> | Degraded<F>;

/** Makes the value shown when a non-essential dependency fails. */
export type Fallback<F> = (reason: string, error: ResilienceError) => F | Promise<F>;
