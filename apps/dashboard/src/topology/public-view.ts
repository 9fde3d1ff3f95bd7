import type {
  AgentView,
  DashboardView,
  BreakerView,
  EtcdMemberView,
  FailoverSummary,
  InstanceView,
  MariaDbConcernView,
  MariaDbNodeView,
  RedisNodeView,
  SentinelView,
  TimelineEvent,
  TopologySnapshot,
} from './snapshot';

export type { DashboardView } from './snapshot';

/**
 * The short reasons a public snapshot gives instead of an error message (which
 * may name a host, a port, a user or a library version).
 */
export const PUBLIC_ERRORS = ['timeout', 'refused', 'unreachable', 'error'] as const;
export type PublicError = (typeof PUBLIC_ERRORS)[number];

export function publicError(error: string | undefined): PublicError | undefined {
  if (error === undefined) return undefined;
  if ((PUBLIC_ERRORS as readonly string[]).includes(error)) return error as PublicError;
  if (/timed? ?out|timeout|ETIMEDOUT|abort/i.test(error)) return 'timeout';
  if (/ECONNREFUSED|refused/i.test(error)) return 'refused';
  if (
    /ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ECONNRESET|unreachable|socket|closed/i.test(error)
  )
    return 'unreachable';
  return 'error';
}

/** What stands in for an address in free text. */
export const HIDDEN = '(hidden)';

/**
 * Free text written by a component (a failover's reason, a concern's text, a
 * breaker's reason) with anything address-like masked: URLs, IPv4 and IPv6
 * addresses, `host:port`.
 */
export function scrubText(text: string): string {
  return (
    text
      .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s,;)]+/gi, HIDDEN)
      .replace(/\[[0-9a-f:.]*\](:\d+)?/gi, HIDDEN)
      .replace(/\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}/gi, (m) =>
        m.includes('::') || m.split(':').length > 5 ? HIDDEN : m,
      )
      .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, HIDDEN)
      // host:port with a letter in the host (a time of day stays)
      .replace(/\b(?=[\w.-]*[a-z])[a-z0-9][\w-]*(?:\.[\w-]+)*:\d{2,5}\b/gi, HIDDEN)
  );
}

const scrub = (text: string | undefined) => (text === undefined ? undefined : scrubText(text));

/** Drops the keys whose value is undefined, so the JSON stays as the full view's. */
function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

/** A stable label per address: `prefix-N` by the addresses' sorted order. */
function labeller(prefix: string, addresses: Array<string | undefined>) {
  const known = [...new Set(addresses.filter((a): a is string => !!a))].sort();
  const labelled = (a: string) => new RegExp(`^${prefix}-\\d+$`).test(a);
  return (a: string | undefined) =>
    a === undefined ? undefined : labelled(a) ? a : `${prefix}-${known.indexOf(a) + 1}`;
}

const instance = (i: InstanceView): InstanceView =>
  defined({
    service: i.service,
    id: i.id,
    startedAt: i.startedAt,
    health: i.health,
    inFlight: i.inFlight,
    requestsPerS: i.requestsPerS,
    errorsPerS: i.errorsPerS,
    error: publicError(i.error),
  });

const breaker = (b: BreakerView): BreakerView =>
  defined({
    caller: b.caller,
    dependency: b.dependency,
    endpoint: b.endpoint,
    state: b.state,
    essential: b.essential,
    retryAfterMs: b.retryAfterMs,
    reason: scrub(b.reason),
  });

const failover = (f: FailoverSummary | undefined): FailoverSummary | undefined =>
  f &&
  defined({
    kind: f.kind,
    epoch: f.epoch,
    from: f.from,
    to: f.to,
    reason: scrubText(f.reason),
    totalMs: f.totalMs,
  });

const agent = (a: AgentView): AgentView =>
  defined({
    id: a.id,
    reachable: a.reachable,
    role: a.role,
    token: a.token,
    epoch: a.epoch,
    acting: a.acting,
    degraded: a.degraded?.map(scrubText),
    lastFailover: failover(a.lastFailover),
    error: publicError(a.error),
  });

function mariaDbNode(n: MariaDbNodeView, all: MariaDbNodeView[]): MariaDbNodeView {
  // a replica's source as a node name, never as host:port
  const source = all.find((m) => n.follows !== undefined && `${m.host}:${m.port}` === n.follows);
  return defined({
    name: n.name,
    role: n.role,
    reachable: n.reachable,
    readOnly: n.readOnly,
    lagMs: n.lagMs,
    semiSync: n.semiSync,
    semiSyncClients: n.semiSyncClients,
    ioRunning: n.ioRunning,
    sqlRunning: n.sqlRunning,
    follows: all.some((m) => m.name === n.follows) ? n.follows : source?.name,
    error: publicError(n.error),
  });
}

const concern = (c: MariaDbConcernView): MariaDbConcernView =>
  defined({
    kind: c.kind,
    node: c.node,
    primary: c.primary,
    since: c.since,
    text: scrubText(c.text),
  });

const etcdMember = (m: EtcdMemberView, label: string): EtcdMemberView =>
  defined({
    endpoint: label,
    reachable: m.reachable,
    healthy: m.healthy,
    isLeader: m.isLeader,
    raftTerm: m.raftTerm,
    error: publicError(m.error),
  });

/**
 * The snapshot an anonymous visitor may see. Built field by field from an
 * allow-list: a field added to the snapshot later stays out of the public view
 * until it is listed here. Pure and idempotent (a public snapshot comes out
 * unchanged).
 *
 * - instances: service, id, health, in flight, start time; no host, port or
 *   version; an error becomes one of {@link PUBLIC_ERRORS}.
 * - MariaDB: node names, roles, lag, semi-sync and replication threads; no
 *   host, port or GTID; a replica's source by name.
 * - Redis: nodes and Sentinels as `redis-N` and `sentinel-N` (stable across
 *   failovers: by sorted address), so a primary change still shows.
 * - etcd: members as `etcd-N` (in configured order), the leader by label.
 * - agents: id, role, fencing token, epoch, last failover with its timings;
 *   no address; free text with addresses masked.
 */
export function publicSnapshot(s: TopologySnapshot): TopologySnapshot {
  const redisLabel = labeller('redis', [
    s.redis.primary,
    ...s.redis.nodes.map((n) => n.address),
    ...s.redis.sentinels.map((x) => x.master),
  ]);
  const sentinelLabel = labeller(
    'sentinel',
    s.redis.sentinels.map((x) => x.address),
  );
  const etcdLabels = new Map(
    s.etcd.members.map((m, n) => [
      m.endpoint,
      /^etcd-\d+$/.test(m.endpoint) ? m.endpoint : `etcd-${n + 1}`,
    ]),
  );
  return {
    view: 'public',
    at: s.at,
    instances: s.instances.map(instance),
    breakers: s.breakers.map(breaker),
    agents: defined({
      leader: s.agents.leader,
      token: s.agents.token,
      agents: s.agents.agents.map(agent),
    }),
    mariadb: defined({
      epoch: s.mariadb.epoch,
      primary: s.mariadb.primary,
      publishedBy: s.mariadb.publishedBy,
      nodes: s.mariadb.nodes.map((n) => mariaDbNode(n, s.mariadb.nodes)),
      concerns: s.mariadb.concerns?.map(concern),
    }),
    redis: defined({
      masterName: s.redis.masterName,
      primary: redisLabel(s.redis.primary),
      nodes: s.redis.nodes.map((n): RedisNodeView => ({
        address: redisLabel(n.address) as string,
        role: n.role,
        up: n.up,
        flags: n.flags,
      })),
      sentinels: s.redis.sentinels.map((x): SentinelView =>
        defined({
          address: sentinelLabel(x.address) as string,
          reachable: x.reachable,
          master: redisLabel(x.master),
          quorum: x.quorum,
          error: publicError(x.error),
        }),
      ),
    }),
    etcd: defined({
      // the probe names the leader by its member id (shown in the full view only)
      leader:
        s.etcd.leader === undefined
          ? undefined
          : (etcdLabels.get(s.etcd.leader) ??
            s.etcd.members
              .filter((m) => m.id === s.etcd.leader)
              .map((m) => etcdLabels.get(m.endpoint) as string)[0] ??
            'etcd-?'),
      members: s.etcd.members.map((m) => etcdMember(m, etcdLabels.get(m.endpoint) as string)),
    }),
    flags: { version: s.flags.version, flags: { ...s.flags.flags } },
  };
}

/**
 * A timeline event for an anonymous visitor: the collector writes it from
 * public snapshots already; this keeps only the listed fields and masks any
 * address left in the text.
 */
export function publicEvent(e: TimelineEvent): TimelineEvent {
  return {
    seq: e.seq,
    at: e.at,
    kind: e.kind,
    subject: scrubText(e.subject),
    message: scrubText(e.message),
    level: e.level,
  };
}

/** The snapshot as `view` shows it. */
export function viewSnapshot(view: DashboardView, s: TopologySnapshot): TopologySnapshot {
  return view === 'full' ? { ...s, view: 'full' } : publicSnapshot(s);
}

/** The timeline as `view` shows it. */
export function viewEvents(view: DashboardView, events: TimelineEvent[]): TimelineEvent[] {
  return view === 'full' ? events : events.map(publicEvent);
}
