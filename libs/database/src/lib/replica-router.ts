/**
 * Replication with read distribution: writes and transactions on the primary,
 * reads spread over the replicas that keep up, read-your-writes through a GTID
 * consistency token, topology switched at runtime by epoch.
 * @see docs/patterns/replication.md
 */
import { createLogger } from '@stayline/observability';
import type { Logger } from 'pino';
import { EntityManager, QueryRunner } from 'typeorm';
import { ConsistencySession, currentSession, mergeToken } from './consistency';
import { DatabaseNode } from './database-node';
import {
  errorText,
  isNodeFailure,
  RetryableWriteError,
  StaleTopologyError,
  TopologyChangedError,
} from './errors';
import { formatGtidList, GtidPosition, parseGtidList } from './gtid';
import { LagMonitor, PrimaryState } from './lag-monitor';
import { MariaDbProbe } from './mariadb-probe';
import { ReplicaHealth, ReplicaState } from './replica-state';
import { RoundRobin } from './round-robin';
import { FallbackReason, RouterMetrics } from './router-metrics';
import {
  describeOptions,
  ReplicaRouterOptions,
  resolveRouterOptions,
  ResolvedRouterOptions,
} from './router-options';
import { describeTopology, NodeAddress, parseTopology, sameAddress, Topology } from './topology';

/** Options of {@link ReplicaRouter.read}. */
export interface ReadOptions {
  /** Whose writes this read must see; default the running request's context. */
  session?: ConsistencySession;
  /** Deadline per node tried; default `readTimeoutMs`. */
  timeoutMs?: number;
}

/** Options of {@link ReplicaRouter.write} and {@link ReplicaRouter.transaction}. */
export interface WriteOptions {
  /** Receives the write's GTID as its consistency token; default the running request's context. */
  session?: ConsistencySession;
  /** Deadline of the whole write; default `writeTimeoutMs`. */
  timeoutMs?: number;
  /** Isolation level of a transaction. */
  isolationLevel?: Parameters<QueryRunner['startTransaction']>[0];
}

/** What the router knows right now (health endpoint, tests, debugging). */
export interface RouterStatus {
  topology: Topology;
  primary: PrimaryState | undefined;
  replicas: Array<{ name: string; state: ReplicaState | undefined }>;
}

type Work<T> = (manager: EntityManager) => Promise<T>;
type ReplicaOutcome<T> = { served: true; value: T } | { served: false };

const MAX_WRITE_ATTEMPTS = 3;

/**
 * Routes TypeORM work between a MariaDB primary and its replicas. Reads retry
 * on another node after a failed or frozen one (so `read` work must be free of
 * side effects); writes never retry once anything was sent, they throw
 * {@link RetryableWriteError} instead.
 */
export class ReplicaRouter {
  private readonly logger: Logger;
  private readonly metrics: RouterMetrics;
  private readonly monitor: LagMonitor;
  private readonly turns = new RoundRobin();
  private nodes = new Map<string, DatabaseNode>();
  private switching: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly o: ResolvedRouterOptions,
    private topology: Topology,
  ) {
    const root = o.logger ?? createLogger({ service: 'database' });
    this.logger = root.child({ component: 'replica-router', database: o.database });
    this.metrics = new RouterMetrics(this.logger, o.fallbackLogIntervalMs);
    this.monitor = new LagMonitor({
      maxLagMs: o.maxLagMs,
      intervalMs: o.probeIntervalMs,
      probeFor: (node) =>
        new MariaDbProbe(node, { user: o.user, password: o.password, timeoutMs: o.probeTimeoutMs }),
    });
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
    const router = new ReplicaRouter(o, o.topology);
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
    const token = this.tokenOf(options.session ?? currentSession());
    const timeoutMs = options.timeoutMs ?? this.o.readTimeoutMs;
    const tried = new Set<string>();
    let reason: FallbackReason = 'no-usable-replica';
    for (let node = this.pickReplica(token, tried); node; node = this.pickReplica(token, tried)) {
      tried.add(node.name);
      try {
        const name = node.name;
        const outcome = await node.run(
          'slave',
          (qr) => this.onReplica(qr, name, token, work),
          timeoutMs,
        );
        if (!outcome.served) {
          reason = 'token-wait-timeout';
          break;
        }
        this.metrics.query(name, 'replica');
        return outcome.value;
      } catch (err) {
        if (!isNodeFailure(err)) throw err;
        this.monitor.markUnreachable(node.name, err);
        reason = 'replica-failed';
      }
    }
    const primary = this.primaryNode();
    this.metrics.fallback(reason, primary.name);
    const value = await primary.run('master', (qr) => work(qr.manager), timeoutMs);
    this.metrics.query(primary.name, 'primary');
    return value;
  }

  /** Runs `work` on the primary (each statement commits by itself); its GTID joins the session's token. */
  write<T>(work: Work<T>, options: WriteOptions = {}): Promise<T> {
    return this.onPrimary(false, work, options);
  }

  /** Runs `work` in one transaction on the primary; its GTID joins the session's token. */
  transaction<T>(work: Work<T>, options: WriteOptions = {}): Promise<T> {
    return this.onPrimary(true, work, options);
  }

  /**
   * Switches to a newer topology without a restart. Refuses an epoch not newer
   * than the current one ({@link StaleTopologyError}). Writes running on a
   * demoted primary are cut off (they fail with {@link RetryableWriteError});
   * fenced nodes are closed at once, dropped ones after their reads drain.
   */
  updateTopology(next: Topology): Promise<void> {
    const valid = parseTopology(next);
    const run = this.switching.then(() => this.switchTo(valid));
    this.switching = run.catch(() => undefined);
    return run;
  }

  /** The topology, the primary's and every replica's last known state. */
  status(): RouterStatus {
    return {
      topology: this.topology,
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
    await Promise.all([...this.nodes.values()].map((n) => n.close(this.o.drainTimeoutMs)));
  }

  private async open(): Promise<void> {
    this.logger.info(
      { topology: describeTopology(this.topology), ...describeOptions(this.o) },
      'replica router starting',
    );
    for (const addr of this.addresses(this.topology))
      this.nodes.set(addr.name, this.createNode(addr));
    const opened = await Promise.allSettled([...this.nodes.values()].map((n) => n.ready()));
    const names = [...this.nodes.keys()];
    for (const [i, r] of opened.entries()) {
      if (r.status === 'fulfilled') continue;
      if (!isNodeFailure(r.reason)) throw r.reason; // credentials, unknown database, bad entities: fail fast
      this.logger.warn(
        { node: names[i], error: errorText(r.reason) },
        'node unreachable at start; retried on use',
      );
    }
    if (this.o.synchronize) await (await this.primaryNode().ready()).synchronize();
    this.monitor.setTopology(this.topology.primary, this.topology.replicas);
    await this.monitor.probe();
    this.monitor.start();
  }

  private async onReplica<T>(
    qr: QueryRunner,
    name: string,
    token: GtidPosition | undefined,
    work: Work<T>,
  ): Promise<ReplicaOutcome<T>> {
    if (token && !this.monitor.hasApplied(name, token)) {
      const rows: Array<{ reached: unknown }> = await qr.query(
        'SELECT MASTER_GTID_WAIT(?, ?) AS reached',
        [formatGtidList(token), this.o.gtidWaitTimeoutMs / 1000],
      );
      // 0: applied; -1: timed out; NULL: error
      if (String(rows[0]?.reached) !== '0') return { served: false };
    }
    return { served: true, value: await work(qr.manager) };
  }

  private async onPrimary<T>(tx: boolean, work: Work<T>, options: WriteOptions): Promise<T> {
    this.assertOpen();
    const session = options.session ?? currentSession();
    for (let attempt = 1; ; attempt++) {
      const epoch = this.topology.epoch;
      const node = this.primaryNode();
      let sent = false;
      let committing = false;
      try {
        const done = await node.run(
          'master',
          async (qr) => {
            // the last check before anything is sent: only the current epoch's primary takes writes
            if (this.topology.epoch !== epoch) throw new TopologyChangedError(node.name);
            sent = true;
            const value = tx
              ? await this.inTransaction(qr, work, options, () => (committing = true))
              : await work(qr.manager);
            return { value, gtid: await lastGtid(qr) };
          },
          options.timeoutMs ?? this.o.writeTimeoutMs,
          true,
        );
        this.metrics.query(node.name, 'primary');
        if (session && done.gtid)
          session.consistencyToken = mergeToken(session.consistencyToken, done.gtid);
        if (done.gtid === null)
          this.logger.warn(
            { primary: node.name },
            'write committed but its GTID could not be read; no token for it',
          );
        return done.value;
      } catch (err) {
        if (!isNodeFailure(err)) throw err;
        const notApplied = !sent || (tx && !committing);
        if (!sent && attempt < MAX_WRITE_ATTEMPTS && this.topology.epoch !== epoch) continue; // nothing sent: the new primary takes it
        const message = `write on ${node.name} failed: ${errorText(err)}`;
        throw new RetryableWriteError(message, notApplied ? 'not-applied' : 'unknown', node.name, {
          cause: err,
        });
      }
    }
  }

  private async inTransaction<T>(
    qr: QueryRunner,
    work: Work<T>,
    options: WriteOptions,
    committing: () => void,
  ): Promise<T> {
    await qr.startTransaction(options.isolationLevel);
    try {
      const value = await work(qr.manager);
      committing();
      await qr.commitTransaction();
      return value;
    } catch (err) {
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      throw err;
    }
  }

  private async switchTo(next: Topology): Promise<void> {
    this.assertOpen();
    const previous = this.topology;
    if (next.epoch <= previous.epoch) throw new StaleTopologyError(next.epoch, previous.epoch);
    const before = this.nodes;
    const after = new Map<string, DatabaseNode>();
    for (const addr of this.addresses(next)) {
      const kept = before.get(addr.name);
      after.set(addr.name, kept && sameAddress(kept.address, addr) ? kept : this.createNode(addr));
    }
    // open new nodes first (bounded by connectTimeoutMs) so the first writes do not pay for it
    await Promise.allSettled(
      [...after.values()].filter((n) => before.get(n.name) !== n).map((n) => n.ready()),
    );
    if (this.closed) return;

    // the switch itself is synchronous: from here on no write can start on the old primary
    this.topology = next;
    this.nodes = after;
    const cut =
      previous.primary.name !== next.primary.name
        ? (before.get(previous.primary.name)?.abortWrites() ?? 0)
        : 0;
    this.monitor.setTopology(next.primary, next.replicas);
    const fenced = new Set(next.fenced ?? []);
    for (const [name, node] of before) {
      if (after.get(name) === node) continue;
      void node.close(fenced.has(name) ? 0 : this.o.drainTimeoutMs);
      this.metrics.forget(name);
    }
    this.logger.warn(
      { from: previous.epoch, writesCut: cut },
      `topology switched to ${describeTopology(next)}`,
    );
    void this.monitor.probe();
  }

  private pickReplica(
    token: GtidPosition | undefined,
    tried: Set<string>,
  ): DatabaseNode | undefined {
    const usable = this.topology.replicas.filter(
      (r) => !tried.has(r.name) && this.monitor.replica(r.name)?.health === ReplicaHealth.Usable,
    );
    // a replica known to have the token's GTID already serves without waiting
    const applied = token ? usable.filter((r) => this.monitor.hasApplied(r.name, token)) : [];
    const chosen = this.turns.pick(applied.length ? applied : usable);
    return chosen && this.nodes.get(chosen.name);
  }

  private tokenOf(session: ConsistencySession | undefined): GtidPosition | undefined {
    const raw = session?.consistencyToken;
    if (!raw) return undefined;
    const token = raw.length <= 512 ? parseGtidList(raw) : undefined;
    if (!token)
      this.logger.debug({ token: raw.slice(0, 64) }, 'ignoring a malformed consistency token');
    return token?.size ? token : undefined;
  }

  private primaryNode(): DatabaseNode {
    const node = this.nodes.get(this.topology.primary.name);
    if (!node) throw new Error(`no pool for the primary ${this.topology.primary.name}`);
    return node;
  }

  private addresses(t: Topology): NodeAddress[] {
    return [t.primary, ...t.replicas];
  }

  private createNode(addr: NodeAddress): DatabaseNode {
    const o = this.o;
    return new DatabaseNode(addr, (node, driver) => ({
      type: 'mariadb',
      driver,
      host: node.host,
      port: node.port,
      username: o.user,
      password: o.password,
      database: o.database,
      entities: o.entities,
      poolSize: o.poolSize,
      connectTimeout: o.connectTimeoutMs,
      charset: 'utf8mb4_unicode_ci',
      timezone: 'Z',
      // no query cache: a cached replica read keeps its staleness after the replica caught up
      cache: false,
      synchronize: false,
      migrationsRun: false,
      logging: false,
    }));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the replica router is closed');
  }
}

/**
 * This session's last GTID (`@@last_gtid`, MariaDB), read on the connection that
 * wrote: `''` when it never wrote, null when it could not be read.
 */
async function lastGtid(qr: QueryRunner): Promise<string | null> {
  try {
    const rows: Array<{ gtid: unknown }> = await qr.query('SELECT @@last_gtid AS gtid');
    return String(rows[0]?.gtid ?? '');
  } catch {
    return null;
  }
}
