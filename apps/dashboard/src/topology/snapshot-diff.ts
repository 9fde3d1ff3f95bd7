import type {
  BreakerView,
  InstanceView,
  MariaDbConcernView,
  TimelineEvent,
  TopologySnapshot,
} from './snapshot';

/** An event before the timeline numbers and dates it. */
export type TopologyChange = Omit<TimelineEvent, 'seq' | 'at'>;

/** What a snapshot cannot say about a change: why an instance left (the registry's removal reason). */
export interface DiffHints {
  removalReasons?: ReadonlyMap<string, string>;
}

const LEFT_BECAUSE: Record<string, string> = {
  deregistered: 'deregistered (graceful stop)',
  expired: 'lease expired (crashed or frozen)',
  'reported-down': 'reported down by an agent',
};

/**
 * The timeline's events between two snapshots: instances joined, left or
 * changed health; breakers opened, half-opened or closed; failovers started
 * and finished; the failover leader, the MariaDB and Redis primaries and the
 * etcd leader changed; the leader agent raised or dropped a concern about a
 * MariaDB node (errant GTIDs, a pending rejoin, ...); flags changed. Pure, so
 * the rules are tested without a stack.
 */
export function diffSnapshots(
  prev: TopologySnapshot,
  next: TopologySnapshot,
  hints: DiffHints = {},
): TopologyChange[] {
  return [
    ...instanceChanges(prev.instances, next.instances, hints),
    ...breakerChanges(prev.breakers, next.breakers),
    ...leaderChanges(prev, next),
    // in the order they happen when one diff holds a whole failover
    ...failoverStarts(prev, next),
    ...primaryChanges(prev, next),
    ...failoverEnds(prev, next),
    ...concernChanges(prev.mariadb.concerns ?? [], next.mariadb.concerns ?? []),
    ...flagChanges(prev, next),
  ];
}

function instanceChanges(
  prev: InstanceView[],
  next: InstanceView[],
  hints: DiffHints,
): TopologyChange[] {
  const before = new Map(prev.map((i) => [i.id, i]));
  const after = new Map(next.map((i) => [i.id, i]));
  const out: TopologyChange[] = [];
  for (const i of next) {
    const was = before.get(i.id);
    if (!was) {
      out.push({
        kind: 'instance-joined',
        subject: i.id,
        message: `${i.id} joined ${i.service}${i.host ? ` at ${i.host}:${i.httpPort ?? '-'}` : ''}`,
        level: 'info',
      });
    } else if (was.health !== i.health && was.health !== 'unknown' && i.health !== 'unknown') {
      out.push({
        kind: 'instance-health',
        subject: i.id,
        message: `${i.id} is ${i.health}${i.error ? `: ${i.error}` : ''}`,
        level: i.health === 'up' ? 'info' : 'warn',
      });
    }
  }
  for (const i of prev) {
    if (after.has(i.id)) continue;
    const reason = hints.removalReasons?.get(i.id);
    out.push({
      kind: 'instance-left',
      subject: i.id,
      message: `${i.id} left ${i.service}${reason ? `: ${LEFT_BECAUSE[reason] ?? reason}` : ''}`,
      level: reason === 'deregistered' ? 'info' : 'warn',
    });
  }
  return out;
}

const breakerKey = (b: BreakerView) => `${b.caller}|${b.dependency}|${b.endpoint}`;
const breakerName = (b: BreakerView) =>
  `${b.caller} -> ${b.dependency}${b.endpoint === '*' ? '' : `/${b.endpoint}`}`;

function breakerChanges(prev: BreakerView[], next: BreakerView[]): TopologyChange[] {
  const before = new Map(prev.map((b) => [breakerKey(b), b]));
  const out: TopologyChange[] = [];
  for (const b of next) {
    // a breaker first seen is created closed: only a first sighting in another state is news
    const was = before.get(breakerKey(b))?.state ?? 'closed';
    if (was === b.state) continue;
    const why = b.reason ? `: ${b.reason}` : '';
    if (b.state === 'open')
      out.push({
        kind: 'breaker-opened',
        subject: breakerName(b),
        message: `breaker ${breakerName(b)} opened${why}`,
        level: 'warn',
      });
    else if (b.state === 'half-open')
      out.push({
        kind: 'breaker-half-open',
        subject: breakerName(b),
        message: `breaker ${breakerName(b)} half-open: trial call${why}`,
        level: 'info',
      });
    else
      out.push({
        kind: 'breaker-closed',
        subject: breakerName(b),
        message: `breaker ${breakerName(b)} closed`,
        level: 'info',
      });
  }
  return out;
}

function leaderChanges(prev: TopologySnapshot, next: TopologySnapshot): TopologyChange[] {
  const out: TopologyChange[] = [];
  const a = next.agents;
  if (a.leader !== prev.agents.leader) {
    out.push(
      a.leader
        ? {
            kind: 'leader-changed',
            subject: a.leader,
            message: `${a.leader} leads the failover agents (fencing token ${a.token ?? '?'})`,
            level: 'info',
          }
        : {
            kind: 'leader-changed',
            subject: prev.agents.leader ?? '',
            message: `no failover agent leads (was ${prev.agents.leader})`,
            level: 'warn',
          },
    );
  }
  return out;
}

function failoverStarts(prev: TopologySnapshot, next: TopologySnapshot): TopologyChange[] {
  const wasActing = new Set(prev.agents.agents.filter((x) => x.acting).map((x) => x.id));
  // the primary being replaced is the one before this change
  const primary = prev.mariadb.primary ?? next.mariadb.primary ?? 'the primary';
  return next.agents.agents
    .filter((x) => x.acting && !wasActing.has(x.id))
    .map((agent) => ({
      kind: 'failover-started',
      subject: agent.id,
      message: `${agent.id} started a failover or switchover of ${primary}`,
      level: 'warn',
    }));
}

function failoverEnds(prev: TopologySnapshot, next: TopologySnapshot): TopologyChange[] {
  const before = latestFailover(prev);
  const after = latestFailover(next);
  if (!after || after.epoch <= (before?.epoch ?? 0)) return [];
  return [
    {
      kind: 'failover-finished',
      subject: after.to,
      message: `${after.kind} finished: ${after.from} -> ${after.to} in ${after.totalMs} ms, epoch ${after.epoch} (${after.reason})`,
      level: 'info',
    },
  ];
}

/** The newest failover or switchover any agent reports. */
export function latestFailover(s: TopologySnapshot) {
  return s.agents.agents
    .map((x) => x.lastFailover)
    .filter((f) => f !== undefined)
    .sort((x, y) => y.epoch - x.epoch)[0];
}

function primaryChanges(prev: TopologySnapshot, next: TopologySnapshot): TopologyChange[] {
  const out: TopologyChange[] = [];
  const m = next.mariadb;
  if (m.primary && prev.mariadb.primary && m.primary !== prev.mariadb.primary)
    out.push({
      kind: 'primary-changed',
      subject: m.primary,
      message: `MariaDB primary ${prev.mariadb.primary} -> ${m.primary} (epoch ${m.epoch})`,
      level: 'warn',
    });
  const r = next.redis;
  if (r.primary && prev.redis.primary && r.primary !== prev.redis.primary)
    out.push({
      kind: 'redis-primary-changed',
      subject: r.primary,
      message: `Redis primary ${prev.redis.primary} -> ${r.primary} (Sentinel failover)`,
      level: 'warn',
    });
  const e = next.etcd;
  if (prev.etcd.leader && e.leader !== prev.etcd.leader)
    out.push({
      kind: 'etcd-leader-changed',
      subject: e.leader ?? prev.etcd.leader,
      message: e.leader
        ? `etcd leader ${prev.etcd.leader} -> ${e.leader}`
        : `etcd has no leader (was ${prev.etcd.leader}): quorum lost?`,
      level: 'warn',
    });
  return out;
}

/** What each kind of concern is called on the page. */
export const CONCERN_LABEL: Record<MariaDbConcernView['kind'], string> = {
  'errant-gtids': 'errant GTIDs',
  fenced: 'waiting for a rejoin',
  diverged: 'ahead of the primary',
  'writable-replica': 'writable replica',
  'not-replicating': 'not replicating yet',
  discovery: 'no topology published',
};

const concernKey = (c: MariaDbConcernView) => `${c.node ?? ''}|${c.kind}`;

/** One event when a concern appears, one when it is gone; a changed text or GTID list is not news. */
function concernChanges(prev: MariaDbConcernView[], next: MariaDbConcernView[]): TopologyChange[] {
  const before = new Set(prev.map(concernKey));
  const after = new Set(next.map(concernKey));
  const subject = (c: MariaDbConcernView) => c.node ?? 'mariadb';
  const raised = next
    .filter((c) => !before.has(concernKey(c)))
    .map((c): TopologyChange => ({
      kind: 'mariadb-concern-raised',
      subject: subject(c),
      message:
        c.kind === 'errant-gtids'
          ? `${c.node} holds errant GTIDs ${c.gtids?.join(',') ?? '?'}${c.primary ? ` that ${c.primary} lacks` : ''}: to be rebuilt from the primary (never merged)`
          : c.text,
      level: 'warn',
    }));
  const cleared = prev
    .filter((c) => !after.has(concernKey(c)))
    .map((c): TopologyChange => ({
      kind: 'mariadb-concern-cleared',
      subject: subject(c),
      message:
        c.kind === 'errant-gtids'
          ? `${c.node} no longer holds errant GTIDs (${c.gtids?.join(',') ?? '?'})`
          : `${subject(c)}: resolved (${CONCERN_LABEL[c.kind] ?? c.kind})`,
      level: 'info',
    }));
  return [...cleared, ...raised];
}

function flagChanges(prev: TopologySnapshot, next: TopologySnapshot): TopologyChange[] {
  if (next.flags.version === prev.flags.version) return [];
  const names = new Set([...Object.keys(prev.flags.flags), ...Object.keys(next.flags.flags)]);
  const changed = [...names].filter(
    (n) => JSON.stringify(prev.flags.flags[n]) !== JSON.stringify(next.flags.flags[n]),
  );
  if (!changed.length) return [];
  return [
    {
      kind: 'flags-changed',
      subject: changed.join(', '),
      message: `flags version ${next.flags.version}: ${changed
        .map((n) => (n in next.flags.flags ? n : `${n} removed`))
        .join(', ')}`,
      level: 'info',
    },
  ];
}
