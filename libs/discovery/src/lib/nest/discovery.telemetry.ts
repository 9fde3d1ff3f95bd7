/**
 * What discovery, leadership and flags tell the health endpoints and
 * Prometheus (through @stayline/observability).
 */
import { ElectionStatus, FeatureFlags, LeaderElection } from '@stayline/coordination';
import { counter, gauge, HealthRegistry, histogram } from '@stayline/observability';
import { BalancedClient, BalancedClientObserver } from '../clients/balanced-client';
import { Leadership } from './leadership';

/** Metrics of the balanced clients: calls by callee and outcome, latency, endpoints known. */
export function lbObserver(): BalancedClientObserver {
  const calls = counter(
    'stayline_lb_calls_total',
    'Calls through the client-side balancer, by callee and outcome',
    ['service', 'outcome'],
  );
  const latency = histogram(
    'stayline_lb_call_seconds',
    'Latency of one attempt through the client-side balancer',
    ['service'],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  const endpoints = gauge('stayline_lb_endpoints', 'Endpoints of a callee the balancer knows', [
    'service',
  ]);
  return {
    onCall: (service, _endpoint, ok, ms) => {
      calls.inc({ service, outcome: ok ? 'ok' : 'failure' });
      latency.observe({ service }, ms / 1_000);
    },
    onEndpoints: (service, list) => endpoints.set({ service }, list.length),
  };
}

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
  clients: () => Promise<Array<BalancedClient<unknown>>>;
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
        callees: Object.fromEntries((await s.clients()).map((c) => [c.service, c.stats()])),
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
