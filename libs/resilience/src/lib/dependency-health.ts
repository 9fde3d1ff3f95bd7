import type { HealthIndicator } from '@stayline/observability';
import { BreakerState } from './breaker-state';
import type { DependencySnapshot } from './dependency-breaker';

/**
 * A health indicator showing the breaker of a dependency and of each endpoint.
 * Any breaker not closed reads `degraded`, never `down`: an outage of a
 * dependency must not take this service out of rotation too, which would
 * spread the very failure the breaker is there to contain.
 */
export function dependencyHealth(source: { snapshot(): DependencySnapshot }): HealthIndicator {
  return () => {
    const { name: _name, ...details } = source.snapshot();
    const allClosed =
      details.state === BreakerState.Closed &&
      Object.values(details.endpoints).every((e) => e.state === BreakerState.Closed);
    return { status: allClosed ? 'up' : 'degraded', details };
  };
}
