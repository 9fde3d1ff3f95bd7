/**
 * What leadership and flags tell the health endpoints and Prometheus (through
 * @stayline/observability).
 */
import { gauge, HealthRegistry } from '@stayline/observability';
import { ElectionStatus, LeaderElection } from '../election/leader-election';
import { FeatureFlags } from '../flags/feature-flags';
import { Leadership } from './leadership';

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

/** Registers the `flags` and `leadership` indicators; returns a function that removes them. */
export function registerCoordinationHealth(
  health: HealthRegistry,
  s: { flags: FeatureFlags; leadership: Leadership },
): () => void {
  const removers = [
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
