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

/**
 * Why the leader agent leaves a MariaDB node out of where the topology wants
 * it (`TopologyReconciler`): `errant-gtids`, a fenced node that logged
 * transactions the primary lacks (never acknowledged: it needs a restart, which
 * rolls them back, or a rebuild); `fenced`, waiting for a rejoin; `diverged`, a
 * replica ahead of its primary; `writable-replica`, a replica found writable
 * (fenced again); `not-replicating`, a node added that does not replicate yet;
 * `discovery`, no topology published yet (no `node`).
 */
export type TopologyConcernKind =
  'errant-gtids' | 'fenced' | 'diverged' | 'writable-replica' | 'not-replicating' | 'discovery';

/** One concern, held until the node rejoins or is healthy again. */
export interface TopologyConcern {
  kind: TopologyConcernKind;
  /** The MariaDB node; absent for a concern about the whole cluster (`discovery`). */
  node?: string;
  /** `errant-gtids`, `diverged`: the GTIDs the node logged that `primary` lacks. */
  gtids?: string[];
  /** The primary the node was compared with. */
  primary?: string;
  /** When the agent first saw it (ISO 8601); kept while the kind stays the same. */
  since: string;
  /** What the agent logged. */
  text: string;
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
  /**
   * The leader's concerns about the MariaDB nodes, as of its last reconcile
   * pass (empty: none). Absent on a follower, on a leader that has not
   * reconciled yet, and from older agents.
   */
  concerns?: TopologyConcern[];
}
