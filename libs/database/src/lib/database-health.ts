import {
  HealthIndicator,
  HealthRegistry,
  HealthStatus,
  healthRegistry,
} from '@stayline/observability';
import { ReplicaHealth } from './replica-state';
import type { ReplicaRouter } from './replica-router';

/**
 * The database as the health endpoint reports it: `up` with the primary
 * reachable and every replica usable; `degraded` (still serving) when a replica
 * lags, stopped or vanished, or when the primary is unreachable but replicas
 * still serve reads; `down` when nothing answers.
 */
export function databaseHealth(router: Pick<ReplicaRouter, 'status'>): HealthIndicator {
  return () => {
    const { topology, primary, replicas } = router.status();
    const usable = replicas.filter((r) => r.state?.health === ReplicaHealth.Usable).length;
    let status: HealthStatus = 'up';
    if (!primary?.reachable) status = usable > 0 ? 'degraded' : 'down';
    else if (usable < replicas.length) status = 'degraded';
    return {
      status,
      details: {
        epoch: topology.epoch,
        primary: {
          name: topology.primary.name,
          reachable: primary?.reachable ?? false,
          error: primary?.error,
        },
        replicas: Object.fromEntries(
          replicas.map((r) => [
            r.name,
            { health: r.state?.health ?? 'unknown', lagMs: lagOf(r.state) },
          ]),
        ),
      },
    };
  };
}

/** Registers {@link databaseHealth} as a readiness indicator; returns the function that removes it. */
export function registerDatabaseHealth(
  router: Pick<ReplicaRouter, 'status'>,
  registry: HealthRegistry = healthRegistry,
  name = 'database',
): () => void {
  return registry.register(name, databaseHealth(router), 'readiness');
}

function lagOf(
  state: ReturnType<ReplicaRouter['status']>['replicas'][number]['state'],
): number | undefined {
  return state && 'lagMs' in state ? Math.round(state.lagMs) : undefined;
}
