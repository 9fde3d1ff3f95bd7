/**
 * The three states of a circuit breaker (see docs/patterns/circuit-breaker.md).
 * Values are the words used in logs, metrics labels and health details.
 */
export enum BreakerState {
  /** Calls go through; failures are counted by the trip policy. */
  Closed = 'closed',
  /** Calls fail at once, without touching the callee, until the reset timeout. */
  Open = 'open',
  /** The reset timeout is over: trial calls decide between Closed and Open. */
  HalfOpen = 'half-open',
}

/** Gauge value of each state in the `resilience_breaker_state` metrics. */
export const BREAKER_STATE_GAUGE: Record<BreakerState, number> = {
  [BreakerState.Closed]: 0,
  [BreakerState.Open]: 1,
  [BreakerState.HalfOpen]: 2,
};

/** What a breaker knows in each state. */
export type BreakerSnapshot =
  | { readonly state: BreakerState.Closed; readonly since: number }
  | {
      readonly state: BreakerState.Open;
      readonly since: number;
      readonly reason: string;
      readonly retryAfterMs: number;
    }
  | { readonly state: BreakerState.HalfOpen; readonly since: number; readonly reason: string };

/** Emitted once on every change of state, with the reason for it. */
export type BreakerTransition =
  | {
      readonly from: BreakerState;
      readonly to: BreakerState.Open;
      readonly reason: string;
      /** How long the breaker stays open before a trial call. */
      readonly retryAfterMs: number;
    }
  | {
      readonly from: BreakerState;
      readonly to: BreakerState.HalfOpen | BreakerState.Closed;
      readonly reason: string;
    };
