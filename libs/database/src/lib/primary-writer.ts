import { setTimeout as delay } from 'node:timers/promises';
import { spanEvent } from '@stayline/observability';
import type { Logger } from 'pino';
import type { EntityManager, QueryRunner } from 'typeorm';
import { gtidTracking } from './connection-tracking';
import { ConsistencySession, currentSession, mergeToken } from './consistency';
import {
  errorText,
  isDeadlock,
  isNodeFailure,
  RetryableWriteError,
  TopologyChangedError,
} from './errors';
import type { NodeSet } from './node-set';
import type { RouterMetrics } from './router-metrics';

/** Work the router runs with an EntityManager bound to one connection. */
export type Work<T> = (manager: EntityManager) => Promise<T>;

/** Options of `ReplicaRouter.write` and `ReplicaRouter.transaction`. */
export interface WriteOptions {
  /** Receives the write's GTID as its consistency token; default the running request's context. */
  session?: ConsistencySession;
  /** Deadline of the whole write; default `writeTimeoutMs`. */
  timeoutMs?: number;
  /** Isolation level of a transaction. */
  isolationLevel?: Parameters<QueryRunner['startTransaction']>[0];
  /**
   * The work only reads (on the primary, for the latest committed rows): no
   * GTID is read after it, a round trip a read does not need. Work that writes
   * under this flag leaves its write out of the session's token.
   */
  readOnly?: boolean;
}

const MAX_ATTEMPTS = 3;
/** A deadlock victim runs again at most this many times, after a short random pause. */
const DEADLOCK_RETRIES = 3;

/**
 * Writes on the current epoch's primary only. The epoch is checked on the
 * connection, right before the first statement; a write that lost its primary
 * before sending anything moves to the new one by itself, any other failure of
 * the node becomes a {@link RetryableWriteError} saying whether it may have
 * been applied. A transaction InnoDB rolled back as a deadlock victim runs
 * again from its start (up to {@link DEADLOCK_RETRIES} times): nothing of it
 * was applied, so `work` must only touch the database. After the commit, the
 * write's GTID joins the session's token: as the commit's OK packet reported
 * it (MariaDB session tracking, see {@link gtidTracking}), else read with
 * `SELECT @@last_gtid`; not after `readOnly` work, which wrote nothing to wait for.
 */
export class PrimaryWriter {
  constructor(
    private readonly nodes: NodeSet,
    private readonly metrics: RouterMetrics,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  /** Runs `work` on the primary, in one transaction when `tx`. */
  async run<T>(tx: boolean, work: Work<T>, options: WriteOptions): Promise<T> {
    const session = options.session ?? currentSession();
    let moves = 0;
    let deadlocks = 0;
    for (;;) {
      const epoch = this.nodes.topology.epoch;
      const node = this.nodes.primary();
      let sent = false;
      let committing = false;
      const once = async (qr: QueryRunner) => {
        if (this.nodes.topology.epoch !== epoch) throw new TopologyChangedError(node.name);
        const tracking = gtidTracking(
          (qr as unknown as { databaseConnection?: object }).databaseConnection,
        );
        tracking?.clear();
        sent = true;
        const value = tx
          ? await inTransaction(qr, work, options, () => {
              committing = true;
              tracking?.clear(); // what counts is what the COMMIT reports
            })
          : await work(qr.manager);
        if (options.readOnly) return { value, gtid: '' };
        // the session reported it with the commit; else one more round trip asks for it
        return { value, gtid: tracking?.last() ?? (await lastGtid(qr)) };
      };
      try {
        const done = await node.run('master', once, options.timeoutMs ?? this.timeoutMs, true);
        this.metrics.query(node.name, 'primary');
        if (session && done.gtid) {
          session.consistencyToken = mergeToken(session.consistencyToken, done.gtid);
        }
        if (done.gtid === null && !options.readOnly) {
          this.logger.warn(
            { primary: node.name },
            'write committed but its GTID is unknown: no token',
          );
        }
        return done.value;
      } catch (err) {
        if (tx && isDeadlock(err) && deadlocks < DEADLOCK_RETRIES) {
          deadlocks++;
          this.metrics.deadlockRetry(node.name);
          spanEvent('db.deadlock_retry', { 'db.node': node.name, 'stayline.deadlocks': deadlocks });
          this.logger.debug(
            { primary: node.name, deadlocks },
            'deadlock victim: running the transaction again',
          );
          // the other transaction holds the locks a moment longer: do not collide with it again at once
          await delay(Math.random() * 10 * deadlocks);
          continue;
        }
        if (!isNodeFailure(err)) throw err;
        const moved = this.nodes.topology.epoch !== epoch;
        // nothing was sent: the new primary takes it
        if (!sent && moved && moves < MAX_ATTEMPTS - 1) {
          moves++;
          // a failover moved the primary before anything was sent: the write goes to the new one
          spanEvent('db.primary_moved', {
            'db.node': node.name,
            'stayline.db.next_primary': this.nodes.primary().name,
          });
          continue;
        }
        const outcome = !sent || (tx && !committing) ? 'not-applied' : 'unknown';
        const message = `write on ${node.name} failed: ${errorText(err)}`;
        spanEvent('db.write_failed', { 'db.node': node.name, 'stayline.db.outcome': outcome });
        throw new RetryableWriteError(message, outcome, node.name, { cause: err });
      }
    }
  }
}

async function inTransaction<T>(
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
