/**
 * Replication with read distribution: writes and transactions on the primary,
 * reads spread over the replicas that keep up, read-your-writes through a GTID
 * consistency token, topology switched at runtime by epoch.
 * @see docs/patterns/replication.md
 */
import { createLogger } from '@stayline/observability';
import type { Logger } from 'pino';
import { errorText, StaleTopologyError } from './errors';
import { LagMonitor, PrimaryState } from './lag-monitor';
import { MariaDbProbe } from './mariadb-probe';
import { NodeSet, nodeFactory } from './node-set';
import { PrimaryWriter, Work, WriteOptions } from './primary-writer';
import { ReadOptions, ReplicaReader } from './replica-reader';
import { ReplicaHealth, ReplicaState } from './replica-state';
import { RouterMetrics } from './router-metrics';
import {
  describeOptions,
  ReplicaRouterOptions,
  resolveRouterOptions,
  ResolvedRouterOptions,
} from './router-options';
import { describeTopology, parseTopology, Topology } from './topology';

/** What the router knows right now (health endpoint, tests, debugging). */
export interface RouterStatus {
  topology: Topology;
  primary: PrimaryState | undefined;
  replicas: Array<{ name: string; state: ReplicaState | undefined }>;
}

/**
 * Routes TypeORM work between a MariaDB primary and its replicas. Reads retry
 * on another node after a failed or frozen one (so `read` work must be free of
 * side effects); writes never retry once anything was sent, they throw
 * `RetryableWriteError` instead.
 */
export class ReplicaRouter {
  private readonly logger: Logger;
  private readonly metrics: RouterMetrics;
  private readonly monitor: LagMonitor;
  private readonly nodes: NodeSet;
  private readonly writer: PrimaryWriter;
  private readonly reader: ReplicaReader;
  private switching: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly o: ResolvedRouterOptions) {
    this.nodes = new NodeSet(o.topology, nodeFactory(o), o.drainTimeoutMs);
    const root = o.logger ?? createLogger({ service: 'database' });
    this.logger = root.child({ component: 'replica-router', database: o.database });
    this.metrics = new RouterMetrics(this.logger, o.fallbackLogIntervalMs);
    this.writer = new PrimaryWriter(this.nodes, this.metrics, this.logger, o.writeTimeoutMs);
    this.monitor = new LagMonitor({
      maxLagMs: o.maxLagMs,
      intervalMs: o.probeIntervalMs,
      probeFor: (node) =>
        new MariaDbProbe(node, { user: o.user, password: o.password, timeoutMs: o.probeTimeoutMs }),
    });
    this.reader = new ReplicaReader(this.nodes, this.monitor, this.metrics, this.logger, o);
    this.monitor.on('transition', ({ replica, from, to }) => {
      const detail = 'lagMs' in to ? { lagMs: Math.round(to.lagMs) } : { error: to.error };
      const level = to.health === ReplicaHealth.Usable ? 'info' : 'warn';
      this.logger[level](
        { replica, from, to: to.health, ...detail },
        `replica ${replica}: ${from ?? 'new'} -> ${to.health}`,
      );
    });
    this.monitor.on('probed', () =>
      this.monitor.replicas().forEach((r) => this.metrics.replica(r.name, r.state)),
    );
  }

  /**
   * Opens a pool per node, creates the schema when `synchronize` (tests only),
   * probes once so replicas serve from the first read, then keeps probing.
   * Nodes that are down are tolerated (retried later); bad credentials are not.
   */
  static async create(options: ReplicaRouterOptions): Promise<ReplicaRouter> {
    const o = resolveRouterOptions(options);
    const router = new ReplicaRouter(o);
    try {
      await router.open();
    } catch (err) {
      await router.close();
      throw err;
    }
    return router;
  }

  /** Runs `work` on a replica that keeps up and has the session's writes, else on the primary. */
  async read<T>(work: Work<T>, options: ReadOptions = {}): Promise<T> {
    this.assertOpen();
    return this.reader.run(work, options);
  }

  /**
   * Runs `work` on the primary (each statement commits by itself); its GTID
   * joins the session's token. With `readOnly`, a read of the latest committed
   * rows with no GTID round trip after it.
   */
  async write<T>(work: Work<T>, options: WriteOptions = {}): Promise<T> {
    this.assertOpen();
    return this.writer.run(false, work, options);
  }

  /**
   * Runs `work` in one transaction on the primary; its GTID joins the session's
   * token. If InnoDB rolls it back as a deadlock victim, `work` runs again from
   * its start (up to 3 times): keep side effects outside the database (a call, a
   * message) out of it, or make them idempotent.
   */
  async transaction<T>(work: Work<T>, options: WriteOptions = {}): Promise<T> {
    this.assertOpen();
    return this.writer.run(true, work, options);
  }

  /**
   * Switches to a newer topology without a restart. Refuses an epoch not newer
   * than the current one ({@link StaleTopologyError}). Writes running on a
   * demoted primary are cut off (they fail with `RetryableWriteError`);
   * fenced nodes are closed at once, dropped ones after their reads drain.
   */
  async updateTopology(next: Topology): Promise<void> {
    const valid = parseTopology(next);
    const run = this.switching.then(() => this.switchTo(valid));
    this.switching = run.catch(() => undefined);
    await run;
  }

  /** The topology, the primary's and every replica's last known state. */
  status(): RouterStatus {
    return {
      topology: this.nodes.topology,
      primary: this.monitor.primary(),
      replicas: this.monitor.replicas(),
    };
  }

  /** Stops probing and closes every pool (running work gets `drainTimeoutMs`). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.monitor.stop();
    await this.switching;
    await this.nodes.close(this.o.drainTimeoutMs);
  }

  private async open(): Promise<void> {
    const { topology } = this.nodes;
    const settings = { topology: describeTopology(topology), ...describeOptions(this.o) };
    this.logger.info(settings, 'replica router starting');
    for (const { name, error } of await this.nodes.open()) {
      this.logger.warn(
        { node: name, error: errorText(error) },
        'node unreachable at start; opened on use',
      );
    }
    if (this.o.synchronize) await (await this.nodes.primary().ready()).synchronize();
    this.monitor.setTopology(topology.primary, topology.replicas);
    await this.monitor.probe();
    this.monitor.start();
  }

  private async switchTo(next: Topology): Promise<void> {
    this.assertOpen();
    const current = this.nodes.topology.epoch;
    if (next.epoch <= current) throw new StaleTopologyError(next.epoch, current);
    const report = await this.nodes.switchTo(next, () => this.closed);
    if (!report) return;
    this.monitor.setTopology(next.primary, next.replicas);
    // a replica that left the topology, closed or promoted, keeps no lag or usable series:
    // a promoted one's last lag would otherwise stay in the gauge (and in the lag alert) for good
    const replicas = new Set(next.replicas.map((r) => r.name));
    report.previous.replicas
      .filter((r) => !replicas.has(r.name))
      .forEach((r) => this.metrics.forget(r.name));
    const { previous, writesCut, closed } = report;
    const line = `topology switched to ${describeTopology(next)}`;
    this.logger.warn({ from: previous.epoch, writesCut, closed }, line);
    void this.monitor.probe();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the replica router is closed');
  }
}
