/**
 * What discovery tells the health endpoints and Prometheus (through
 * @stayline/observability). Leadership and flags report themselves
 * (CoordinationModule).
 */
import { gauge, HealthRegistry } from '@stayline/observability';

export const registeredGauge = () =>
  gauge(
    'stayline_discovery_registered',
    'Whether this instance is in the registry (1) or not (0)',
    ['service'],
  );

export interface HealthSources {
  service: string;
  instanceId: () => string | undefined;
  registered: () => boolean;
  /** Requests and messages being handled now (this health request among them). */
  inFlight: () => number;
  /**
   * Requests and messages finished since start, and the failed (5xx) among
   * them: counters that only grow (back to 0 on a restart), the probes left out.
   */
  completed: () => number;
  failed: () => number;
}

/** Registers the `discovery` indicator; returns a function that removes it. */
export function registerHealth(health: HealthRegistry, s: HealthSources): () => void {
  return health.register('discovery', async () => ({
    status: s.registered() ? 'up' : 'down',
    details: {
      service: s.service,
      instance: s.instanceId(),
      registered: s.registered(),
      inFlight: s.inFlight(),
      completed: s.completed(),
      failed: s.failed(),
    },
  }));
}
