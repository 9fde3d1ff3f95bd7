import { counter, gauge } from '@stayline/observability';

/** The agent's Prometheus metrics (`GET /metrics`), beside Node's defaults. */
export const agentMetrics = {
  leader: gauge('stayline_failover_agent_leader', 'Whether this agent leads (acts): 1 or 0'),
  epoch: gauge(
    'stayline_failover_topology_epoch',
    'Epoch of the MariaDB topology this agent follows',
  ),
  primaryUp: gauge(
    'stayline_failover_primary_up',
    'Whether the MariaDB primary answered the last probe of this agent',
  ),
  actions: counter(
    'stayline_failover_actions_total',
    'Failovers and switchovers run by this agent, by outcome',
    ['kind', 'outcome'],
  ),
  lastDuration: gauge(
    'stayline_failover_last_duration_ms',
    'Duration of the last failover or switchover, from the decision to the publication',
    ['kind'],
  ),
  lastDetection: gauge(
    'stayline_failover_last_detection_ms',
    'From the first failed probe to the primary declared dead, last failover',
  ),
  semiSyncDegraded: gauge(
    'stayline_failover_semisync_degraded',
    '1 while the primary cannot acknowledge writes durably, with the reason (writes wait, then fail)',
    ['reason'],
  ),
  semiSyncClients: gauge(
    'stayline_failover_semisync_clients',
    'Replicas attached to the primary as semi-sync clients',
  ),
};

/** What a failover or switchover run by this agent ended in (`stayline_failover_actions_total`). */
export const ACTION_KINDS = ['failover', 'switchover'] as const;
export const ACTION_OUTCOMES = ['done', 'failed', 'deposed'] as const;
// every series exists from the start at 0: Prometheus' increase() cannot see a counter's
// first step when the series is born with it (an alert on the first failover would miss it)
for (const kind of ACTION_KINDS)
  for (const outcome of ACTION_OUTCOMES) agentMetrics.actions.inc({ kind, outcome }, 0);

/** Why semi-sync cannot make a write durable right now. */
export const SEMI_SYNC_REASONS = [
  'no-replica-attached',
  'semi-sync-off',
  'fell-back-to-async',
] as const;
export type SemiSyncReason = (typeof SEMI_SYNC_REASONS)[number];
