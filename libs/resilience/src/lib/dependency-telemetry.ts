import { counter, gauge, histogram } from '@stayline/observability';
import type { Logger } from 'pino';
import { BREAKER_STATE_GAUGE, BreakerState, type BreakerTransition } from './breaker-state';

/** A transition of one endpoint's breaker (`endpointId` set) or of the dependency as a whole. */
export type DependencyTransition = BreakerTransition & {
  readonly dependency: string;
  readonly endpointId?: string;
};

/** How a call ended, as the `outcome` label. */
export type CallOutcomeLabel =
  | 'success'
  | 'client_error'
  | 'breaker_open'
  | 'call_timeout'
  | 'bulkhead_rejected'
  | 'dependency_unavailable';

const endpointState = gauge(
  'resilience_breaker_state',
  'Breaker of one endpoint: 0 closed, 1 open, 2 half-open',
  ['dependency', 'endpoint'],
);
const dependencyState = gauge(
  'resilience_dependency_state',
  'Dependency: 0 closed, 1 open (all endpoints), 2 half-open',
  ['dependency'],
);
const transitions = counter('resilience_breaker_transitions_total', 'Breaker state changes', [
  'dependency',
  'endpoint',
  'to',
]);
const calls = counter('resilience_calls_total', 'Guarded calls by outcome', [
  'dependency',
  'outcome',
]);
const fallbacks = counter('resilience_fallbacks_total', 'Calls answered by a fallback (degraded)', [
  'dependency',
]);
const duration = histogram(
  'resilience_call_duration_seconds',
  'Duration of guarded calls at the call site, retries included',
  ['dependency', 'outcome'],
  [0.0005, 0.001, 0.005, 0.02, 0.05, 0.1, 0.3, 0.5, 1, 2, 5],
);
const inFlight = gauge('resilience_in_flight', 'Calls in flight inside the bulkhead', [
  'dependency',
]);

/** Logs every state change once with its reason, and keeps the metrics of one dependency. */
export class DependencyTelemetry {
  constructor(
    private readonly dependency: string,
    private readonly logger: Logger,
  ) {
    dependencyState.set({ dependency }, BREAKER_STATE_GAUGE[BreakerState.Closed]);
  }

  /** Records a transition: one log line, the state gauge, the transition counter. */
  transition(t: DependencyTransition): void {
    const endpoint = t.endpointId ?? '*';
    const level = t.to === BreakerState.Open ? 'warn' : 'info';
    const retry = t.to === BreakerState.Open ? { retryAfterMs: t.retryAfterMs } : {};
    this.logger[level](
      { dependency: this.dependency, endpoint, from: t.from, to: t.to, reason: t.reason, ...retry },
      `breaker ${this.dependency}/${endpoint} ${t.from} -> ${t.to}: ${t.reason}`,
    );
    transitions.inc({ dependency: this.dependency, endpoint, to: t.to });
    if (t.endpointId === undefined)
      dependencyState.set({ dependency: this.dependency }, BREAKER_STATE_GAUGE[t.to]);
    else endpointState.set({ dependency: this.dependency, endpoint }, BREAKER_STATE_GAUGE[t.to]);
  }

  /** A new endpoint starts closed. */
  added(endpointId: string): void {
    endpointState.set(
      { dependency: this.dependency, endpoint: endpointId },
      BREAKER_STATE_GAUGE[BreakerState.Closed],
    );
  }

  /** Drops the series of an endpoint that is gone. */
  removed(endpointId: string): void {
    endpointState.remove({ dependency: this.dependency, endpoint: endpointId });
  }

  /** Counts a finished call and its duration at the call site. */
  called(outcome: CallOutcomeLabel, seconds: number, degraded: boolean): void {
    calls.inc({ dependency: this.dependency, outcome });
    duration.observe({ dependency: this.dependency, outcome }, seconds);
    if (degraded) fallbacks.inc({ dependency: this.dependency });
  }

  /** Tracks calls inside the bulkhead (+1 on entry, -1 on exit). */
  inFlight(delta: 1 | -1): void {
    inFlight.inc({ dependency: this.dependency }, delta);
  }
}
