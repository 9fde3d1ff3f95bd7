import type { FailoverReport, TopologyConcern } from '@stayline/contracts';
/**
 * What the dashboard shows: one snapshot of the whole system, rebuilt on every
 * registry push and every poll, and sent whole to each page (a few kB: simpler
 * and safer than patches, and a page that missed a message is never wrong).
 */

/** How an instance's `/health/ready` answered. `unknown`: not probed yet. */
export type InstanceHealth = 'up' | 'degraded' | 'down' | 'unknown';

/** One registered service instance. */
export interface InstanceView {
  service: string;
  id: string;
  /** Full view only, as the ports and the version. */
  host?: string;
  httpPort?: number;
  tcpPort?: number;
  version?: string;
  startedAt: string;
  health: InstanceHealth;
  /** Requests and messages it is handling, the dashboard's own probe left out. */
  inFlight?: number;
  /**
   * Requests and messages it finished per second between the last two polls
   * (the probes left out), and the failed (5xx) among them: absent until two
   * polls of the same run, and for an instance that does not count them.
   */
  requestsPerS?: number;
  errorsPerS?: number;
  /** Why it is down, when it is. */
  error?: string;
}

export type BreakerStateName = 'closed' | 'open' | 'half-open';

/** One breaker: a caller instance's view of a dependency (`endpoint` `*`) or of one of its instances. */
export interface BreakerView {
  caller: string;
  dependency: string;
  endpoint: string;
  state: BreakerStateName;
  essential?: boolean;
  /** While open: until the next trial call. */
  retryAfterMs?: number;
  reason?: string;
}

export interface AgentView {
  id: string;
  /** Full view only. */
  address?: string;
  reachable: boolean;
  role?: 'leader' | 'follower';
  token?: number;
  epoch?: number;
  /** A failover or switchover is running. */
  acting?: boolean;
  degraded?: string[];
  lastFailover?: FailoverSummary;
  error?: string;
}

/** A failover or switchover as the dashboard shows it. */
export type FailoverSummary = Pick<
  FailoverReport,
  'kind' | 'epoch' | 'from' | 'to' | 'reason' | 'totalMs'
>;

export interface AgentsView {
  leader?: string;
  /** The leader's fencing token. */
  token?: number;
  agents: AgentView[];
}

export type MariaDbRole = 'primary' | 'replica' | 'fenced' | 'unknown';

export interface MariaDbNodeView {
  name: string;
  /** Full view only, as the port and the GTID. */
  host?: string;
  port?: number;
  /** As the published topology names it. */
  role: MariaDbRole;
  reachable: boolean;
  readOnly?: boolean;
  gtid?: string;
  /** Milliseconds behind the primary (from GTIDs); null when it applies nothing. */
  lagMs?: number | null;
  /** The primary's master side, a replica's slave side. */
  semiSync?: 'ON' | 'OFF';
  /** Primary: replicas attached as semi-sync clients. */
  semiSyncClients?: number;
  ioRunning?: boolean;
  sqlRunning?: boolean;
  /** Replica: `host:port` of the node it replicates from. */
  follows?: string;
  error?: string;
}

/**
 * Why the leader agent keeps a node out of where the topology wants it (its
 * `/health` `concerns`), e.g. `errant-gtids`: a fenced node holding
 * transactions the primary lacks, to restart or rebuild.
 */
export type MariaDbConcernView = TopologyConcern;

export interface MariaDbView {
  epoch: number;
  primary?: string;
  publishedBy?: string;
  nodes: MariaDbNodeView[];
  /**
   * The leader agent's concerns, as it last reported them (kept while no
   * leader reports); empty when there are none.
   */
  concerns?: MariaDbConcernView[];
}

export interface RedisNodeView {
  address: string;
  role: 'primary' | 'replica';
  /** Replica: its link to the primary; primary: whether Sentinel sees it up. */
  up: boolean;
  flags: string;
}

export interface SentinelView {
  address: string;
  reachable: boolean;
  /** The primary it names. */
  master?: string;
  /** Whether enough Sentinels agree to authorise a failover. */
  quorum?: boolean;
  error?: string;
}

export interface RedisView {
  masterName: string;
  primary?: string;
  nodes: RedisNodeView[];
  sentinels: SentinelView[];
}

export interface EtcdMemberView {
  endpoint: string;
  id?: string;
  reachable: boolean;
  healthy: boolean;
  isLeader: boolean;
  raftTerm?: number;
  error?: string;
}

export interface EtcdView {
  leader?: string;
  members: EtcdMemberView[];
}

export interface FlagsView {
  version: number;
  flags: Record<string, unknown>;
}

/**
 * What the page may show. `full`: everything the probes saw, addresses
 * included (a dev stack, where they teach). `public`: what teaches the
 * patterns (services, instance ids, health, roles, lag, breakers, the leader
 * and its fencing token, failovers and their timings), without what locates
 * or fingerprints an internal component (hosts, ports, addresses, raw error
 * strings, build versions, GTIDs). See `public-view.ts`.
 */
export type DashboardView = 'full' | 'public';

export interface TopologySnapshot {
  /** Set on the way out: which view this is. */
  view?: DashboardView;
  at: string;
  instances: InstanceView[];
  breakers: BreakerView[];
  agents: AgentsView;
  mariadb: MariaDbView;
  redis: RedisView;
  etcd: EtcdView;
  flags: FlagsView;
}

export type TimelineKind =
  | 'instance-joined'
  | 'instance-left'
  | 'instance-health'
  | 'breaker-opened'
  | 'breaker-half-open'
  | 'breaker-closed'
  | 'failover-started'
  | 'failover-finished'
  | 'leader-changed'
  | 'primary-changed'
  | 'redis-primary-changed'
  | 'etcd-leader-changed'
  | 'flags-changed'
  | 'mariadb-concern-raised'
  | 'mariadb-concern-cleared';

/** One line of the timeline. `seq` orders them and lets a page drop duplicates. */
export interface TimelineEvent {
  seq: number;
  at: string;
  kind: TimelineKind;
  subject: string;
  message: string;
  level: 'info' | 'warn';
}

/** A snapshot with nothing known yet: the first diff's baseline. */
export function emptySnapshot(at = new Date().toISOString()): TopologySnapshot {
  return {
    at,
    instances: [],
    breakers: [],
    agents: { agents: [] },
    mariadb: { epoch: 0, nodes: [], concerns: [] },
    redis: { masterName: '', nodes: [], sentinels: [] },
    etcd: { members: [] },
    flags: { version: 0, flags: {} },
  };
}
