import type { Topology } from './topology';

/** What a failover or planned switchover did, logged once and kept on the agent's `/health`. */
export interface FailoverReport {
  kind: 'failover' | 'switchover';
  epoch: number;
  from: string;
  to: string;
  reason: string;
  /** Picked up from a leader that died half-way. */
  resumed: boolean;
  at: string;
  /** How the old primary was fenced. */
  fence: string;
  positions: Record<string, string>;
  replicas: string[];
  semiSyncClients: number;
  durable: boolean;
  /** Milliseconds per step, and in total (from the decision; detection is reported beside). */
  steps: Record<string, number>;
  totalMs: number;
  detectionMs?: number;
  writesPausedMs?: number;
}

/** The primary as one agent sees it. */
export interface AgentPrimaryView {
  health: string;
  primary: string;
  [detail: string]: unknown;
}

/** The body of a failover agent's `GET /health`. */
export interface AgentHealth {
  status: 'up' | 'degraded';
  agentId: string;
  role: 'leader' | 'follower';
  /** The leader's fencing token (undefined on a follower). */
  token?: number;
  leaderId?: string;
  /** Why the agent is degraded; empty when up. */
  degraded: string[];
  epoch: number;
  topology?: Topology;
  primary: AgentPrimaryView;
  semiSync: { ok: boolean; reason?: string; clients?: number };
  lastFailover?: FailoverReport;
  lastSwitchover?: FailoverReport;
  /** A failover or switchover is running now. */
  acting: boolean;
  paused?: { point: string; since: string };
  stonith: string;
  /** Each Redis node's role as the agent last read it. */
  redis: Record<string, 'primary' | 'replica' | 'down'>;
}
