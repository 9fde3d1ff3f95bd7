import { counter, gauge } from '@stayline/observability';
import type { Logger } from 'pino';
import { ReplicaHealth, ReplicaState } from './replica-state';

/** Why a read went to the primary although replicas exist to take it. */
export type FallbackReason = 'no-usable-replica' | 'token-wait-timeout' | 'replica-failed';

/**
 * The router's metrics (`stayline_db_*`) and its rate-limited log of degraded
 * reads: reads falling back is a state worth one line, not one per query.
 */
export class RouterMetrics {
  private readonly queries = counter(
    'stayline_db_queries_total',
    'Routed database operations, by the node that ran them',
    ['target', 'role'],
  );
  private readonly fallbacks = counter(
    'stayline_db_primary_fallbacks_total',
    'Reads sent to the primary because no replica could serve them, by reason',
    ['reason'],
  );
  private readonly staleReads = counter(
    'stayline_db_stale_reads_total',
    'Reads served by a replica outside the lag bound because the primary failed',
    ['replica'],
  );
  private readonly lag = gauge(
    'stayline_db_replica_lag_ms',
    'How far a replica is behind the primary, from GTID positions',
    ['replica'],
  );
  private readonly usable = gauge(
    'stayline_db_replica_usable',
    '1 while a replica takes reads, else 0',
    ['replica'],
  );
  private readonly deadlocks = counter(
    'stayline_db_deadlock_retries_total',
    'Transactions InnoDB rolled back as a deadlock victim and the router ran again',
    ['primary'],
  );
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly logIntervalMs: number,
  ) {}

  /** One operation ran on `target`. */
  query(target: string, role: 'primary' | 'replica'): void {
    this.queries.inc({ target, role });
  }

  /** A transaction was a deadlock victim and runs again. */
  deadlockRetry(primary: string): void {
    this.deadlocks.inc({ primary });
  }

  /** One read went to the primary instead of a replica. */
  fallback(reason: FallbackReason, primary: string): void {
    this.fallbacks.inc({ reason });
    this.logSometimes(
      reason,
      { reason, primary },
      `reads fall back to the primary ${primary} (${reason})`,
    );
  }

  /** One read was served by a replica outside the lag bound: the primary had failed. */
  staleRead(replica: string, primaryError: string): void {
    this.staleReads.inc({ replica });
    this.logSometimes(
      'stale-read',
      { replica, primaryError },
      `the primary failed; reads served by ${replica}, outside the lag bound`,
    );
  }

  /** A replica's latest probe. */
  replica(name: string, state: ReplicaState | undefined): void {
    this.usable.set({ replica: name }, state?.health === ReplicaHealth.Usable ? 1 : 0);
    if (state && 'lagMs' in state) this.lag.set({ replica: name }, Math.round(state.lagMs));
    else this.lag.remove({ replica: name });
  }

  /** A replica left the topology. */
  forget(name: string): void {
    this.usable.remove({ replica: name });
    this.lag.remove({ replica: name });
  }

  private logSometimes(key: string, fields: Record<string, unknown>, line: string): void {
    const now = performance.now();
    const last = this.lastLogged.get(key);
    if (last && now - last.at < this.logIntervalMs) {
      last.suppressed++;
      return;
    }
    this.lastLogged.set(key, { at: now, suppressed: 0 });
    const similar = {
      similarSinceLastLine: last?.suppressed ?? 0,
      logIntervalMs: this.logIntervalMs,
    };
    this.logger.warn({ ...fields, ...similar }, line);
  }
}
