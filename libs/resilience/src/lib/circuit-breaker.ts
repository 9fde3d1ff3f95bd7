/**
 * Circuit breaker: see docs/patterns/circuit-breaker.md.
 *
 * One breaker guards one endpoint (one instance of a dependency). Closed, it
 * counts failures with a trip policy; open, it refuses calls at once for the
 * reset timeout (jittered, so callers do not probe in step); then half-open,
 * one trial call (or a few, `halfOpenTrials`) closes it again or re-opens it.
 * cockatiel's CircuitBreakerPolicy does the counting and the state changes;
 * this class adds fail-fast while a trial is in flight (cockatiel would queue
 * the caller behind the trial), the remaining open time for `Retry-After`, and
 * one event per transition with its reason. Time is cockatiel's: `Date.now()`.
 */
import {
  CircuitState,
  DelegateBackoff,
  EventEmitter,
  circuitBreaker,
  TaskCancelledError,
  handleWhen,
  type CircuitBreakerPolicy,
  type Event,
  type FailureReason,
} from 'cockatiel';
import { BreakerState, type BreakerSnapshot, type BreakerTransition } from './breaker-state';
import { isClientError } from './client-error';
import { BreakerOpenError } from './errors';
import { TrialBreaker } from './trial-breaker';
import { createTripBreaker, describeTrip, type TripPolicy } from './trip-policy';

/** What a load balancer needs from the breaker of one endpoint. */
export interface EndpointBreaker {
  /** The current state. */
  readonly state: BreakerState;
  /** Whether a call made now would be let through (false: it would fail fast). */
  isCallPermitted(): boolean;
  /** Runs `fn` through the breaker; rejects with BreakerOpenError without calling it when open. */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Milliseconds until the next trial call is allowed (0 unless open). */
  retryAfterMs(): number;
  /** Fires once on every transition, with its reason. */
  readonly onStateChange: Event<BreakerTransition>;
}

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Dependency name, for errors. */
  readonly dependency: string;
  /** Endpoint id, for errors. */
  readonly endpointId?: string;
  /** When to open. */
  readonly trip: TripPolicy;
  /** How long to stay open before a trial call. */
  readonly resetTimeoutMs: number;
  /** Spread of the reset timeout, 0..1 (0.1: +-10%). Default 0.1. */
  readonly resetJitter?: number;
  /** Successful trial calls needed to close. Default 1. */
  readonly halfOpenTrials?: number;
  /** Source of randomness for the jitter. Default Math.random. */
  readonly random?: () => number;
}

/**
 * Whether an error is cockatiel's cancellation (a timeout or an abort). Not
 * cockatiel's own `isTaskCancelledError`: in 3.2.1 it tests for the bulkhead's marker.
 */
export function isCancellation(error: unknown): error is TaskCancelledError {
  return error instanceof TaskCancelledError;
}

/** Whether an error counts against the breaker: not a client error, not a cancellation. */
export function countsAsFailure(error: unknown): boolean {
  return !isClientError(error) && !isCancellation(error);
}

type OwnState =
  | { state: BreakerState.Closed; since: number }
  | { state: BreakerState.Open; since: number; reason: string }
  | { state: BreakerState.HalfOpen; since: number; reason: string };

/** The per-endpoint breaker, on cockatiel's CircuitBreakerPolicy. */
export class CircuitBreaker implements EndpointBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private readonly trial: TrialBreaker;
  private readonly transitions = new EventEmitter<BreakerTransition>();
  private own: OwnState = { state: BreakerState.Closed, since: Date.now() };
  private openedAt = 0;
  private resetMs: number;

  /** @inheritdoc */
  readonly onStateChange = this.transitions.addListener;

  constructor(private readonly options: CircuitBreakerOptions) {
    const trials = options.halfOpenTrials ?? 1;
    this.resetMs = options.resetTimeoutMs;
    this.trial = new TrialBreaker(createTripBreaker(options.trip), trials, () =>
      this.moveTo(
        BreakerState.Closed,
        trials === 1 ? 'trial call succeeded' : `${trials} trial calls succeeded`,
      ),
    );
    this.policy = circuitBreaker(handleWhen(countsAsFailure), {
      breaker: this.trial,
      halfOpenAfter: new DelegateBackoff(() => (this.resetMs = this.jitteredReset())),
    });
    this.policy.onStateChange((state) => this.follow(state));
  }

  /** @inheritdoc */
  get state(): BreakerState {
    return this.own.state;
  }

  /** @inheritdoc */
  isCallPermitted(): boolean {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return true;
      case CircuitState.Open:
        return Date.now() - this.openedAt >= this.resetMs;
      default:
        return false; // half-open with its trial in flight, or isolated
    }
  }

  /** @inheritdoc */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (!this.isCallPermitted()) {
      return Promise.reject(
        new BreakerOpenError(this.options.dependency, this.retryAfterMs(), this.options.endpointId),
      );
    }
    return this.policy.execute(({ signal: inner }) => fn(inner), signal);
  }

  /** @inheritdoc */
  retryAfterMs(): number {
    if (this.policy.state !== CircuitState.Open) return 0;
    return Math.max(0, this.openedAt + this.resetMs - Date.now());
  }

  /** The state with what goes with it, for health details. */
  snapshot(): BreakerSnapshot {
    const own = this.own;
    if (own.state === BreakerState.Open) return { ...own, retryAfterMs: this.retryAfterMs() };
    return own;
  }

  private follow(state: CircuitState): void {
    switch (state) {
      case CircuitState.Open: {
        this.openedAt = (
          this.policy.toJSON() as { ownState: { openedAt: number } }
        ).ownState.openedAt;
        const last = describeFailure(this.policy.lastFailure);
        const tripped = this.own.state === BreakerState.Closed;
        this.moveTo(
          BreakerState.Open,
          tripped
            ? `${describeTrip(this.options.trip)}; last: ${last}`
            : `trial call failed: ${last}`,
        );
        return;
      }
      case CircuitState.HalfOpen:
        this.moveTo(
          BreakerState.HalfOpen,
          `reset timeout of ${this.resetMs} ms elapsed; trial call`,
        );
        return;
      case CircuitState.Closed:
        // a successful trial already closed us (TrialBreaker), or more trials are due
        if (this.trial.trialsLeft === 0)
          this.moveTo(BreakerState.Closed, 'trial call answered with a client error');
        return;
    }
  }

  private moveTo(to: BreakerState, reason: string): void {
    const from = this.own.state;
    if (from === to) return;
    const since = Date.now();
    if (to === BreakerState.Open) {
      this.own = { state: to, since, reason };
      this.transitions.emit({ from, to, reason, retryAfterMs: this.retryAfterMs() });
    } else {
      this.own = to === BreakerState.Closed ? { state: to, since } : { state: to, since, reason };
      this.transitions.emit({ from, to, reason });
    }
  }

  private jitteredReset(): number {
    const jitter = this.options.resetJitter ?? 0.1;
    const random = this.options.random ?? Math.random;
    return Math.round(this.options.resetTimeoutMs * (1 + jitter * (2 * random() - 1)));
  }
}

function describeFailure(failure: FailureReason<unknown> | undefined): string {
  if (failure === undefined) return 'unknown';
  if ('error' in failure) return failure.error.message || failure.error.name;
  return 'a result marked as failed';
}
