/**
 * `npm run demo:failover [-- --quick]`: automatic failover
 * (docs/patterns/failover.md). Under a steady write stream it SIGKILLs the
 * MariaDB primary and shows, live, the agents' detection and decisions (from
 * their own logs), every service instance switching to the new epoch without a
 * restart, and the writes resuming; then the Redis primary, which Sentinel
 * fails over. Checks: no acknowledged write lost on either, every service on
 * the new epoch, each outage under a generous bound. At the end the old MariaDB
 * primary rejoins as a replica and the old Redis primary restarts as one, so
 * the stack is whole again (and the demo can run again). Measured the same
 * way as the fault tests, `npm run chaos` and the bench (lib/failover-rounds.ts).
 * Starts the failover agents first if none run (STAYLINE_AGENT_PORTS).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  agentHealth,
  DATA_SERVICES,
  ensureFailoverAgents,
  isAlive,
  leaderAgent,
  publishedTopology,
  redisCommand,
  rejoinAsReplica,
  replicationInfo,
  Stack,
} from '@stayline/stack-kit';
import {
  mariadbRound,
  redisRound,
  redisSettled,
  RedisWriteStream,
  WriteStream,
} from '@stayline/fault-kit';
import { databaseOf, Demo, followLogs, parseLogLine, runDemo } from './index';

/** Agent log lines worth showing: detection, decision, steps, outcome. */
const AGENT_LINES =
  /did not answer|declared dead|unconfirmed|failing over|done:|elected|deposed|topology published|semi-sync|repointed|fenced|STONITH|resuming/;
/** Sentinel's own account of a failover (one Sentinel's view is enough). */
const SENTINEL_LINES = /\+sdown master|\+odown|\+elected-leader|\+promoted-slave|\+switch-master/;

/** Services with a database of their own: they follow the topology (the dashboard has none). */
function databaseServices(stack: Stack) {
  return stack.byKind('service').filter((c) => DATA_SERVICES.includes(String(c.meta?.service)));
}

/**
 * Polls every service instance's readiness (its router's epoch and primary),
 * prints each switch, and remembers when each instance first reached an epoch.
 */
function watchServices(d: Demo) {
  const services = databaseServices(d.stack);
  const epochOf = new Map<string, number>();
  const reached: Array<{ name: string; epoch: number; at: number }> = [];
  const timer = setInterval(() => {
    for (const s of services) {
      void databaseOf(s)
        .then((db) => {
          if (db?.epoch === undefined || epochOf.get(s.name) === db.epoch) return;
          if (epochOf.has(s.name))
            d.say(
              `${s.name}: database epoch ${db.epoch}, primary ${db.primary?.name} (no restart)`,
            );
          epochOf.set(s.name, db.epoch);
          reached.push({ name: s.name, epoch: db.epoch, at: performance.now() });
        })
        .catch(() => undefined);
    }
  }, 50);
  return {
    all: services.map((s) => s.name),
    stop: () => clearInterval(timer),
    /** When each instance first ran on `epoch` or newer. */
    reachedAt: (epoch: number) => {
      const first = new Map<string, number>();
      for (const r of reached) if (r.epoch >= epoch && !first.has(r.name)) first.set(r.name, r.at);
      return first;
    },
  };
}

async function mariadbFailover(d: Demo): Promise<void> {
  const ports = process.env.STAYLINE_AGENT_PORTS?.split(',').map(Number);
  const agents = await ensureFailoverAgents(d.stack, ports);
  const before = await publishedTopology(d.stack);
  if (!before) throw new Error('the agents published no topology');
  const leader = await leaderAgent(d.stack);
  d.say(
    `agents: ${agents.map((a) => `${a.name}${a.name === leader?.name ? ' (leader)' : ''}`).join(', ')}`,
  );
  d.say(
    `topology epoch ${before.epoch}: primary ${before.primary.name}, replicas ${before.replicas.map((r) => r.name).join(' ')}`,
  );
  const old = before.primary.name;
  // whatever happens below, the old primary must come back as a replica for the next demo
  d.onCleanup(`rejoin ${old} as a replica`, async () => {
    if ((await publishedTopology(d.stack))?.fenced?.includes(old))
      await rejoinAsReplica(d.stack, old);
  });

  const stream = await WriteStream.start(d.stack);
  d.onCleanup('stop the MariaDB write stream', () => stream.stop());
  const services = watchServices(d);
  d.onCleanup('stop watching the services', services.stop);
  await sleep(d.pick(3_000, 1_000));
  d.say(`${stream.acks.length} writes acknowledged so far by 4 writers through a ReplicaRouter`);
  const stopTail = followLogs(agents, (name, line) => {
    const msg = parseLogLine(line)?.msg;
    if (msg && AGENT_LINES.test(msg)) d.say(`${name}: ${msg}`);
  });
  d.onCleanup('stop following the agents', stopTail);

  d.step(`SIGKILL ${old} (the MariaDB primary) under the writes`);
  let killedAt = 0;
  const round = await mariadbRound(d.stack, stream, {
    onKill: (name, at) => {
      killedAt = at;
      d.say(`SIGKILL -> ${name}`);
    },
    onResumed: (ms, promoted) =>
      d.say(`first write accepted on ${promoted}: ${Math.round(ms)} ms after the kill`),
  });
  d.say(`${old} rejoined as a replica (${round.rejoin}); epoch ${round.epoch} was the failover's`);
  await d
    .until(
      'every service instance on the new epoch',
      () => services.reachedAt(round.epoch).size === services.all.length,
      { timeoutMs: 15_000, intervalMs: 50 },
    )
    .catch(() => undefined);
  await sleep(d.pick(1_000, 300));
  stopTail();
  services.stop();
  await stream.stop();

  const switched = services.reachedAt(round.epoch);
  const lastSwitchMs = Math.max(...[...switched.values()].map((t) => t - killedAt));
  const report = (await agentHealth(d.stack, (await leaderAgent(d.stack))?.name ?? agents[0].name))
    .lastFailover;
  if (report?.epoch === round.epoch) {
    d.say(
      `the leader's report: detection ${report.detectionMs} ms, failover ${report.totalMs} ms (${Object.entries(
        report.steps,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}); old primary: ${report.fence}`,
    );
  }
  const after = await publishedTopology(d.stack);

  d.check(
    'no acknowledged write lost (new primary and repointed replica)',
    round.lost === 0,
    `${round.acked} acknowledged, ${round.lost} missing`,
  );
  d.check(
    'every service instance switched to the new epoch, no restart',
    switched.size === services.all.length,
    `${switched.size}/${services.all.length} on epoch >= ${round.epoch}`,
  );
  d.check(
    'writes resumed on the new primary within 10 s',
    round.outageMs < 10_000,
    `${round.outageMs} ms`,
  );
  d.check(
    `${old} stayed down until the rejoin, then came back as a replica`,
    round.oldPrimaryDown && Boolean(after?.replicas.some((r) => r.name === old)),
    `promoted ${round.promoted}, ${old} ${round.rejoin}`,
  );

  const mariaAnchor = 'RDS Multi-AZ 60-120 s; Aurora ~30 s; orchestrator 10-20 s';
  d.figure(`MariaDB: SIGKILL to first write on ${round.promoted}`, round.outageMs, 'ms', {
    goal: '< 5000',
    anchor: mariaAnchor,
  });
  if (round.detectionMs !== undefined)
    d.figure('MariaDB: detection (first failed probe to dead)', round.detectionMs, 'ms');
  if (round.failoverMs !== undefined)
    d.figure('MariaDB: decision to topology published', round.failoverMs, 'ms');
  d.figure('MariaDB: last service instance on the new epoch', Math.round(lastSwitchMs), 'ms', {
    anchor: 'DNS failover: the TTL, 10-60 s inside a network',
  });
  d.figure('MariaDB: writes acknowledged / lost', `${round.acked} / ${round.lost}`, '', {
    goal: 'lost 0',
  });
  d.figure('MariaDB: writes retried by the client during the switch', stream.retried, '');
}

async function redisFailover(d: Demo): Promise<void> {
  await redisSettled(d.stack, 0);
  const old = d.stack.redis.primary.name;
  d.onCleanup(`restart ${old} as a replica`, async () => {
    if (!isAlive(d.stack.component(old).pid)) await d.stack.restart(old);
  });
  const stream = RedisWriteStream.start(d.stack);
  d.onCleanup('stop the Redis write stream', () => stream.stop());
  await sleep(d.pick(2_000, 800));
  d.say(
    `${stream.writes.length} Redis writes through Sentinel so far, each then WAIT 1 (a replica has it)`,
  );
  const sentinel = d.stack.byKind('sentinel')[0];
  const stopTail = followLogs([sentinel], (name, line) => {
    const event = SENTINEL_LINES.exec(line);
    if (event) d.say(`${name}: ${line.slice(event.index)}`);
  });
  d.onCleanup('stop following Sentinel', stopTail);

  d.step(`SIGKILL ${old} (the Redis primary) under the writes`);
  const round = await redisRound(d.stack, stream, {
    onKill: (name) => d.say(`SIGKILL -> ${name}`),
    onResumed: (ms, promoted) =>
      d.say(`first write accepted by ${promoted}: ${Math.round(ms)} ms after the kill`),
  });
  await sleep(d.pick(1_000, 300));
  stopTail();
  await stream.stop();
  const { role } = await replicationInfo(d.stack.component(old));
  d.say(`${old} restarted: role ${role}, following ${round.promoted}`);

  d.check(
    'Redis: no write a replica acknowledged (WAIT 1) lost',
    round.lost === 0,
    `${round.acked} acknowledged, ${round.lost} missing on ${round.promoted}`,
  );
  d.check(
    'Redis: writes resumed through Sentinel within 15 s',
    round.outageMs < 15_000,
    `${round.outageMs} ms`,
  );
  d.check(`Redis: ${old} is back as a replica`, role === 'slave', role);
  d.figure(`Redis: SIGKILL to first write on ${round.promoted}`, round.outageMs, 'ms', {
    goal: '< 3000',
    anchor: 'Sentinel defaults: 30 s detection (down-after 1 s here)',
  });
  d.figure('Redis: writes acknowledged / lost', `${round.acked} / ${round.lost}`, '', {
    goal: 'lost 0',
  });
}

void runDemo(
  {
    name: 'failover',
    title:
      'the MariaDB primary, then the Redis primary, killed under writes; nothing acknowledged lost',
  },
  async (d) => {
    d.step('MariaDB: a write stream through a ReplicaRouter that follows the published topology');
    await mariadbFailover(d);
    d.step('Redis: a write stream through Sentinel');
    await redisFailover(d);

    d.step('the stack after both failovers');
    const sentinelsAgree = async () => {
      const masters = await Promise.all(
        d.stack.redis.sentinels.map((s) =>
          redisCommand<string[]>(
            s,
            'SENTINEL',
            'GET-MASTER-ADDR-BY-NAME',
            d.stack.redis.masterName,
          ),
        ),
      );
      return new Set(masters.map((m) => m.join(':'))).size === 1;
    };
    let unhealthy: string[] = [];
    const healthy = await d
      .until(
        'every component healthy',
        async () => {
          const now = await d.stack.status();
          unhealthy = now.components.filter((c) => !c.healthy).map((c) => c.name);
          return unhealthy.length === 0 && (await sentinelsAgree());
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      )
      .then(
        () => true,
        () => false,
      );
    for (const c of (await d.stack.status()).components)
      if (c.kind === 'mariadb' || c.kind === 'redis')
        d.say(
          `${c.name.padEnd(10)} ${String(c.role).padEnd(8)} ${c.healthy ? 'healthy' : c.reason}`,
        );
    d.check(
      'every component healthy again, the Sentinels agree on the primary',
      healthy,
      unhealthy.length ? `not healthy: ${unhealthy.join(' ')}` : undefined,
    );
  },
);
