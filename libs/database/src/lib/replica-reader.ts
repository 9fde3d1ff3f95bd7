import type { Logger } from 'pino';
import type { QueryRunner } from 'typeorm';
import { ConsistencySession, currentSession } from './consistency';
import type { DatabaseNode } from './database-node';
import { errorText, isNodeFailure } from './errors';
import { formatGtidList, GtidPosition, parseGtidList } from '@stayline/contracts';
import { inSpan, RoundRobin, spanEvent } from '@stayline/observability';
import type { LagMonitor } from './lag-monitor';
import type { NodeSet } from './node-set';
import type { Work } from './primary-writer';
import { ReplicaHealth, ReplicaState } from './replica-state';
import type { FallbackReason, RouterMetrics } from './router-metrics';

/** Options of `ReplicaRouter.read`. */
export interface ReadOptions {
  /** Whose writes this read must see; default the running request's context. */
  session?: ConsistencySession;
  /** Deadline per node tried; default `readTimeoutMs`. */
  timeoutMs?: number;
}

type Outcome<T> = { served: true; value: T } | { served: false };

/**
 * Where a read runs: a usable replica in turn (one that has the session's
 * token, or one that waits for it with `MASTER_GTID_WAIT`), the next one when
 * a replica fails or does not answer in time, else the primary. Should the
 * primary fail too (it died; a failover is under way), a replica that still
 * answers serves the read although it is outside the lag bound, provided it
 * has the token's writes: during an outage a stale read beats an error.
 */
export class ReplicaReader {
  private readonly turns = new RoundRobin();

  constructor(
    private readonly nodes: NodeSet,
    private readonly monitor: LagMonitor,
    private readonly metrics: RouterMetrics,
    private readonly logger: Logger,
    private readonly settings: { readTimeoutMs: number; gtidWaitTimeoutMs: number },
  ) {}

  /** Runs `work` where the class comment says. */
  async run<T>(work: Work<T>, options: ReadOptions): Promise<T> {
    const token = this.tokenOf(options.session ?? currentSession());
    const timeoutMs = options.timeoutMs ?? this.settings.readTimeoutMs;
    const tried = new Set<string>();
    let reason: FallbackReason = 'no-usable-replica';
    for (let node = this.pick(token, tried); node; node = this.pick(token, tried)) {
      tried.add(node.name);
      // the router's choice, on the span of the code that reads (see docs/observability.md)
      spanEvent('db.route', {
        'db.node': node.name,
        'stayline.db.role': 'replica',
        'stayline.db.token': token !== undefined,
      });
      try {
        const outcome = await this.onReplica(node, token, work, timeoutMs);
        if (outcome.served) return outcome.value;
        reason = 'token-wait-timeout';
        break;
      } catch (err) {
        if (!isNodeFailure(err)) throw err;
        this.monitor.markUnreachable(node.name, err);
        reason = 'replica-failed';
        spanEvent('db.replica_failed', { 'db.node': node.name, 'stayline.reason': errorText(err) });
      }
    }
    this.metrics.fallback(reason, this.nodes.primary().name);
    spanEvent('db.route', {
      'db.node': this.nodes.primary().name,
      'stayline.db.role': 'primary',
      'stayline.reason': reason,
    });
    return this.onPrimary(work, token, timeoutMs);
  }

  private async onPrimary<T>(
    work: Work<T>,
    token: GtidPosition | undefined,
    timeoutMs: number,
  ): Promise<T> {
    let primary = this.nodes.primary();
    try {
      return await this.onNode(primary, 'primary', (qr) => work(qr.manager), timeoutMs);
    } catch (err) {
      if (!isNodeFailure(err)) throw err;
      if (this.nodes.primary() !== primary) {
        primary = this.nodes.primary(); // the topology moved on meanwhile
        return this.onNode(primary, 'primary', (qr) => work(qr.manager), timeoutMs);
      }
      return this.lastResort(work, token, timeoutMs, err);
    }
  }

  private async lastResort<T>(
    work: Work<T>,
    token: GtidPosition | undefined,
    timeoutMs: number,
    primaryError: unknown,
  ): Promise<T> {
    // replicas that answered their last probe, the most advanced first
    const answering = this.monitor
      .replicas()
      .filter((r) => r.state && r.state.health !== ReplicaHealth.Unreachable)
      .sort((a, b) => lagOf(a.state) - lagOf(b.state));
    for (const { name } of answering) {
      const node = this.nodes.node(name);
      if (!node) continue;
      try {
        const outcome = await this.onReplica(node, token, work, timeoutMs);
        if (!outcome.served) continue;
        this.metrics.staleRead(name, errorText(primaryError));
        spanEvent('db.stale_read', {
          'db.node': name,
          'stayline.reason': errorText(primaryError),
        });
        return outcome.value;
      } catch (err) {
        if (!isNodeFailure(err)) throw err;
      }
    }
    throw primaryError;
  }

  private onReplica<T>(
    node: DatabaseNode,
    token: GtidPosition | undefined,
    work: Work<T>,
    timeoutMs: number,
  ): Promise<Outcome<T>> {
    return this.onNode(
      node,
      'replica',
      async (qr) => {
        if (
          token &&
          !this.monitor.hasApplied(node.name, token) &&
          !(await this.waitFor(qr, token))
        ) {
          return { served: false };
        }
        return { served: true, value: await work(qr.manager) };
      },
      timeoutMs,
      (outcome) => outcome.served,
    );
  }

  private async onNode<T>(
    node: DatabaseNode,
    role: 'primary' | 'replica',
    work: (qr: QueryRunner) => Promise<T>,
    timeoutMs: number,
    counts: (value: T) => boolean = () => true,
  ): Promise<T> {
    const value = await node.run(role === 'primary' ? 'master' : 'slave', work, timeoutMs);
    if (counts(value)) this.metrics.query(node.name, role);
    return value;
  }

  /** `MASTER_GTID_WAIT` on the replica: whether it applied `token` within the wait timeout. */
  private waitFor(qr: QueryRunner, token: GtidPosition): Promise<boolean> {
    // a span of its own: the time a read-your-writes read waited for its replica
    return inSpan(
      'db.consistency_wait',
      { attributes: { 'stayline.db.wait_timeout_ms': this.settings.gtidWaitTimeoutMs } },
      async (span) => {
        const rows: Array<{ reached: unknown }> = await qr.query(
          'SELECT MASTER_GTID_WAIT(?, ?) AS reached',
          [formatGtidList(token), this.settings.gtidWaitTimeoutMs / 1000],
        );
        const reached = String(rows[0]?.reached) === '0'; // -1: timed out; NULL: error
        span.setAttribute('stayline.db.token_reached', reached);
        return reached;
      },
    );
  }

  private pick(token: GtidPosition | undefined, tried: Set<string>): DatabaseNode | undefined {
    const usable = this.nodes.topology.replicas.filter(
      (r) => !tried.has(r.name) && this.monitor.replica(r.name)?.health === ReplicaHealth.Usable,
    );
    // a replica known to have the token's GTID already serves without waiting
    const applied = token ? usable.filter((r) => this.monitor.hasApplied(r.name, token)) : [];
    const chosen = this.turns.pick(applied.length ? applied : usable);
    return chosen && this.nodes.node(chosen.name);
  }

  private tokenOf(session: ConsistencySession | undefined): GtidPosition | undefined {
    const raw = session?.consistencyToken;
    if (!raw) return undefined;
    const token = raw.length <= 512 ? parseGtidList(raw) : undefined;
    if (!token)
      this.logger.debug({ token: raw.slice(0, 64) }, 'ignoring a malformed consistency token');
    return token?.size ? token : undefined;
  }
}

function lagOf(state: ReplicaState | undefined): number {
  return state && 'lagMs' in state ? state.lagMs : Number.POSITIVE_INFINITY;
}
