/**
 * What discovery, leadership and flags tell the health endpoints and
 * Prometheus (through @stayline/observability).
 */
import { ElectionStatus, FeatureFlags, LeaderElection } from '@stayline/coordination';
import { gauge, HealthRegistry } from '@stayline/observability';
import { Leadership } from './leadership';

export const registeredGauge = () =>
  gauge(
    'stayline_discovery_registered',
    'Whether this instance is in the registry (1) or not (0)',
    ['service'],
  );

/** Keeps `stayline_leader{election}` and `stayline_leader_token{election}` current. */
export function watchLeadership(name: string, election: LeaderElection): () => void {
  const leader = gauge(
    'stayline_leader',
    'Whether this instance leads the election (1) or not (0)',
    ['election'],
  );
  const token = gauge(
    'stayline_leader_token',
    'The fencing token of the current term while leading',
    ['election'],
  );
  return election.on('state', (state) => {
    leader.set({ election: name }, state.status === ElectionStatus.Leader ? 1 : 0);
    if (state.status === ElectionStatus.Leader) token.set({ election: name }, state.token);
  });
}

/** Keeps `stayline_flags_version` current. */
export function watchFlags(flags: FeatureFlags): () => void {
  const version = gauge(
    'stayline_flags_version',
    'Version of the feature flags this instance applies',
  );
  version.set(flags.snapshot().version);
  return flags.onChange((_changed, snapshot) => version.set(snapshot.version));
}

export interface HealthSources {
  service: string;
  instanceId: () => string | undefined;
  registered: () => boolean;
  /** Requests and messages being handled now (this health request among them). */
  inFlight: () => number;
  flags: FeatureFlags;
  leadership: Leadership;
}

/** Registers the `discovery`, `flags` and `leadership` indicators; returns a function that removes them. */
export function registerHealth(health: HealthRegistry, s: HealthSources): () => void {
  const removers = [
    health.register('discovery', async () => ({
      status: s.registered() ? 'up' : 'down',
      details: {
        service: s.service,
        instance: s.instanceId(),
        registered: s.registered(),
        inFlight: s.inFlight(),
      },
    })),
    health.register('flags', () => {
      const snap = s.flags.snapshot();
      return {
        status: s.flags.ready ? 'up' : 'degraded',
        details: {
          version: snap.version,
          flags: Object.keys(snap.flags).length,
          loaded: s.flags.ready,
        },
      };
    }),
    health.register('leadership', () => ({ status: 'up', details: s.leadership.states() })),
  ];
  return () => removers.forEach((r) => r());
}
