import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { FeatureFlags, jittered, keepTrying, unrefTimeout } from '@stayline/coordination';
import { RedisTopologySource } from '@stayline/database';
import {
  InstanceChange,
  SERVICE_REGISTRY,
  ServiceInstance,
  ServiceRegistry,
  Unsubscribe,
} from '@stayline/discovery';
import { OBSERVABILITY_LOGGER } from '@stayline/observability';
import type { Logger } from 'pino';
import { redisTargetOf, sentinelAuthOf } from '@stayline/service-runtime';
import { DashboardConfig } from '../config';
import { AgentsProbe } from '../probes/agents.probe';
import { EtcdProbe } from '../probes/etcd.probe';
import { probeInstance } from '../probes/instance.probe';
import { InstanceHealthReport } from '../probes/instance-health';
import { MariaDbProbe } from '../probes/mariadb.probe';
import { RedisProbe } from '../probes/redis.probe';
import { emptySnapshot, InstanceView, TimelineEvent, TopologySnapshot } from './snapshot';
import { viewSnapshot } from './public-view';
import { RateMeter } from './rates';
import { diffSnapshots } from './snapshot-diff';
import { Timeline } from './timeline';

export const DASHBOARD_CONFIG = Symbol('DASHBOARD_CONFIG');

/** Gets every new snapshot, with the timeline events that led to it. */
export type SnapshotListener = (snapshot: TopologySnapshot, events: TimelineEvent[]) => void;

type PolledParts = Pick<TopologySnapshot, 'agents' | 'mariadb' | 'redis' | 'etcd'>;

/**
 * Registry changes rebuild the snapshot at once, then at most once per this
 * interval: under churn among many instances a rebuild per change (sort, diff
 * and serialize all N) made the page's cost grow as changes x N.
 */
const REBUILD_EVERY_MS = 100;

/**
 * At most this many instances' health endpoints per poll round, in turn: the
 * probes of a round cost the same at 10 instances or 5000 (each instance is
 * then at most ceil(N / this) rounds old; a new instance is probed on arrival).
 */
export const PROBES_PER_ROUND = 200;

/** A snapshot's content, its time of day left out: "did anything change?". */
const content = (s: TopologySnapshot) => JSON.stringify({ ...s, at: '' });

/**
 * Keeps the live snapshot of the system. The registry is watched (pushed: a
 * graceful stop reaches the page within milliseconds, a crash within the
 * lease); everything without a push (health endpoints, SQL, Sentinels, etcd,
 * agents) is polled every POLL_INTERVAL_MS, and at once when the agents
 * publish a new MariaDB topology. Each change is diffed against the last
 * snapshot into timeline events and handed to the listeners (the event stream).
 */
@Injectable()
export class TopologyCollector implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly instances = new Map<string, ServiceInstance>();
  private readonly reports = new Map<string, InstanceHealthReport>();
  /** Each instance's last counters: its requests per second. */
  private readonly rates: RateMeter;
  private readonly removalReasons = new Map<string, string>();
  private readonly listeners = new Set<SnapshotListener>();
  private readonly timeline: Timeline;
  private readonly topology: RedisTopologySource;
  private readonly mariadb: MariaDbProbe;
  private readonly redis: RedisProbe;
  private readonly etcd: EtcdProbe;
  private readonly agents: AgentsProbe;
  private readonly cleanups: Array<Unsubscribe | (() => Promise<void>)> = [];
  private parts: PolledParts = emptySnapshot();
  private current: TopologySnapshot;
  /** Off until the first full round: what was there at start is the baseline, not news. */
  private baselined = false;
  private polling?: Promise<void>;
  private pollAgain = false;
  /** Where the next round's probes start, when there are more instances than PROBES_PER_ROUND. */
  private probeCursor = 0;
  private timer?: NodeJS.Timeout;
  private rebuildTimer?: NodeJS.Timeout;
  private lastRebuild = -Infinity;
  private stopped = false;

  constructor(
    @Inject(DASHBOARD_CONFIG) private readonly c: DashboardConfig,
    @Inject(SERVICE_REGISTRY) private readonly registry: ServiceRegistry,
    private readonly flags: FeatureFlags,
    @Inject(OBSERVABILITY_LOGGER) private readonly logger: Logger,
  ) {
    const redis = redisTargetOf(c);
    this.timeline = new Timeline(c.TIMELINE_SIZE);
    // half a poll: a new instance's first probe and the round's just after it make no rate
    this.rates = new RateMeter(c.POLL_INTERVAL_MS / 2);
    this.current = viewSnapshot(c.DASHBOARD_VIEW, emptySnapshot());
    this.topology = new RedisTopologySource({ redis, logger });
    this.mariadb = new MariaDbProbe({
      user: c.DB_USER,
      password: c.DB_PASSWORD,
      timeoutMs: c.PROBE_TIMEOUT_MS,
      nodes: c.MARIADB_NODES,
    });
    this.redis = new RedisProbe(
      c.REDIS_SENTINELS,
      c.REDIS_MASTER_NAME,
      c.PROBE_TIMEOUT_MS,
      sentinelAuthOf(c),
    );
    this.etcd = new EtcdProbe(c.ETCD_ENDPOINTS?.endpoints ?? [], c.PROBE_TIMEOUT_MS);
    this.agents = new AgentsProbe(c.FAILOVER_AGENTS, c.PROBE_TIMEOUT_MS);
  }

  /** The snapshot now. */
  snapshot(): TopologySnapshot {
    return this.current;
  }

  /** The timeline, oldest first. */
  events(): TimelineEvent[] {
    return this.timeline.recent();
  }

  /** Calls `listener` on every change; returns the function that stops it. */
  subscribe(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onApplicationBootstrap(): void {
    this.logger.info(
      {
        services: this.c.DASHBOARD_SERVICES,
        view: this.c.DASHBOARD_VIEW,
        pollIntervalMs: this.c.POLL_INTERVAL_MS,
        probeTimeoutMs: this.c.PROBE_TIMEOUT_MS,
        agents: this.c.FAILOVER_AGENTS.length,
        etcdMembers: this.c.ETCD_ENDPOINTS?.endpoints.length ?? 0,
        discovery: this.c.DISCOVERY_BACKEND,
        coordination: this.c.COORDINATION_BACKEND,
      },
      'collecting the topology',
    );
    // in the background: the dashboard answers (an empty snapshot) while the coordinator is still reached
    void this.start().catch((err: Error) =>
      this.logger.error({ err: err.message }, 'topology collection failed to start'),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.rebuildTimer);
    for (const stop of this.cleanups.splice(0)) await stop();
    await this.polling?.catch(() => undefined);
    this.mariadb.close();
    this.redis.close();
    await this.topology.close();
  }

  private async start(): Promise<void> {
    for (const service of this.c.DASHBOARD_SERVICES) {
      this.cleanups.push(
        await this.untilDone(`watch ${service}`, () =>
          this.registry.watch(service, (list, change) => this.onRegistry(service, list, change)),
        ),
      );
    }
    this.cleanups.push(this.flags.onChange(() => this.rebuild()));
    // a failover publishes a new topology: show it now, not at the next poll
    this.cleanups.push(
      await this.untilDone('watch the MariaDB topology', () =>
        this.topology.watch(() => void this.poll()),
      ),
    );
    await this.poll();
    this.baselined = true;
    this.rebuild();
    this.schedule();
  }

  /**
   * The coordinator may be failing over while this starts: keep trying every
   * second. Rejects only once the collector stops (the caller then gives up).
   */
  private async untilDone<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    let failures = 0;
    const result = await keepTrying(attempt, {
      retryMs: 1_000,
      stopped: () => this.stopped,
      onFailure: (err) => {
        if (failures++ === 0)
          this.logger.warn({ err: err.message }, `${what} failed; retrying every second`);
      },
    });
    if (this.stopped) throw new Error(`${what}: the dashboard is stopping`);
    return result as T;
  }

  /** One instance per added, updated or removed change; the whole list on a snapshot or resync. */
  private onRegistry(service: string, list: readonly ServiceInstance[], change: InstanceChange) {
    let fresh: ServiceInstance[];
    if (change.kind === 'removed') {
      this.removalReasons.set(change.id, change.reason);
      this.forget(change.id);
      fresh = [];
    } else if (change.kind === 'added' || change.kind === 'updated') {
      const i = change.instance;
      fresh = this.instances.has(i.id) ? [] : [i];
      this.instances.set(i.id, i);
    } else {
      const ids = new Set(list.map((i) => i.id));
      for (const [id, i] of this.instances)
        if (i.service === service && !ids.has(id)) this.forget(id);
      fresh = list.filter((i) => !this.instances.has(i.id));
      for (const i of list) this.instances.set(i.id, i);
    }
    this.rebuildSoon();
    // a new instance's health and breakers now, rather than at the next poll
    for (const i of fresh)
      void probeInstance(i, this.c.PROBE_TIMEOUT_MS).then((r) => {
        if (!this.instances.has(i.id)) return;
        this.report(i, r);
        this.rebuildSoon();
      });
  }

  private forget(id: string): void {
    this.instances.delete(id);
    this.reports.delete(id);
    this.rates.forget(id);
  }

  /** Rebuilds now if the last rebuild is `REBUILD_EVERY_MS` old, else once that long after it. */
  private rebuildSoon(): void {
    if (this.rebuildTimer || this.stopped) return;
    const wait = this.lastRebuild + REBUILD_EVERY_MS - performance.now();
    if (wait <= 0) return this.rebuild();
    this.rebuildTimer = unrefTimeout(() => {
      this.rebuildTimer = undefined;
      this.rebuild();
    }, wait);
  }

  /** One round of every polled probe; a round asked for while one runs follows it. */
  private poll(): Promise<void> {
    if (this.polling) {
      this.pollAgain = true;
      return this.polling;
    }
    this.polling = this.round().finally(() => {
      this.polling = undefined;
      if (this.pollAgain && !this.stopped) {
        this.pollAgain = false;
        void this.poll();
      }
    });
    return this.polling;
  }

  private async round(): Promise<void> {
    const listed = this.nextProbes();
    const [reports, agents, mariadb, redis, etcd] = await Promise.all([
      Promise.all(listed.map((i) => probeInstance(i, this.c.PROBE_TIMEOUT_MS))),
      this.agents.probe(),
      this.topology
        .current()
        .catch(() => undefined)
        .then((t) => this.mariadb.probe(t)),
      this.redis.probe(),
      this.etcd.probe(),
    ]);
    listed.forEach((i, n) => {
      if (this.instances.has(i.id)) this.report(i, reports[n]);
    });
    this.parts = { agents, mariadb: { ...mariadb, concerns: this.agents.concerns() }, redis, etcd };
    this.rebuild();
  }

  /** Every instance, or PROBES_PER_ROUND of them from where the last round stopped. */
  private nextProbes(): ServiceInstance[] {
    const { batch, next } = probeBatch([...this.instances.values()], this.probeCursor);
    this.probeCursor = next;
    return batch;
  }

  private report(i: ServiceInstance, r: InstanceHealthReport): void {
    this.reports.set(i.id, r);
    this.rates.read(i.id, i.startedAt, {
      completed: r.completed,
      failed: r.failed,
      atMs: r.atMs ?? performance.now(),
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = unrefTimeout(() => {
      void this.poll()
        .catch((err: Error) => this.logger.warn({ err: err.message }, 'topology poll failed'))
        .finally(() => this.schedule());
    }, jittered(this.c.POLL_INTERVAL_MS));
  }

  private rebuild(): void {
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = undefined;
    this.lastRebuild = performance.now();
    const next = this.build();
    let events: TimelineEvent[] = [];
    if (this.baselined) {
      events = this.timeline.add(
        diffSnapshots(this.current, next, { removalReasons: this.removalReasons }),
      );
      this.removalReasons.clear();
    }
    if (!events.length && content(next) === content(this.current)) return;
    this.current = next;
    for (const listener of this.listeners) listener(next, events);
  }

  private build(): TopologySnapshot {
    const instances: InstanceView[] = [...this.instances.values()]
      .sort((a, b) => a.service.localeCompare(b.service) || a.id.localeCompare(b.id))
      .map((i) => {
        const r = this.reports.get(i.id);
        return {
          service: i.service,
          id: i.id,
          host: i.host,
          httpPort: i.httpPort,
          tcpPort: i.tcpPort,
          version: i.version,
          startedAt: i.startedAt,
          health: r?.health ?? 'unknown',
          inFlight: r?.inFlight,
          ...this.rates.rate(i.id),
          error: r?.error,
        };
      });
    const breakers = instances.flatMap((i) => this.reports.get(i.id)?.breakers ?? []);
    const flags = this.flags.snapshot();
    // diffed in its view: the timeline of a public page is written without addresses
    return viewSnapshot(this.c.DASHBOARD_VIEW, {
      at: new Date().toISOString(),
      instances,
      breakers,
      ...this.parts,
      flags: { version: flags.version, flags: { ...flags.flags } },
    });
  }
}

/**
 * The instances one poll round probes: all of them up to `size`, else `size`
 * of them from `cursor` on, wrapping around; `next` is the following round's cursor.
 */
export function probeBatch<T>(
  all: readonly T[],
  cursor: number,
  size = PROBES_PER_ROUND,
): { batch: T[]; next: number } {
  if (all.length <= size) return { batch: [...all], next: 0 };
  const from = cursor % all.length;
  const batch = all.slice(from, from + size);
  return { batch: batch.concat(all.slice(0, size - batch.length)), next: from + size };
}
