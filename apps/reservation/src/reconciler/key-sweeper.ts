import { ReplicaRouter } from '@stayline/database';
import { counter } from '@stayline/observability';
import type { Logger } from 'pino';
import { BookingStore } from '../reservations/booking.store';

const swept = counter(
  'stayline_reservation_idempotency_keys_swept_total',
  'Expired idempotency keys deleted',
);

/** How often the sweep runs: as often as keys expire, at most once a minute. */
export function sweepEveryMs(retentionS: number): number {
  return Math.min(60_000, retentionS * 1000);
}

/**
 * Deletes idempotency keys past their retention, on the primary, in bounded
 * batches: each batch is one statement of its own (`LIMIT`, by the
 * `created_at` index), a pass stops after `maxBatches` and the rest waits for
 * the next one, so neither a backlog nor a failover holds locks or a
 * connection for long. A batch is idempotent: run twice (a leader deposed
 * mid-pass, the next elected) or cut off by a failover, it deletes nothing
 * that was not already expired. Expired keys are no longer matched anyway;
 * the sweep only keeps the table small.
 */
export class IdempotencyKeySweeper {
  private nextAt = 0;

  constructor(
    private readonly db: ReplicaRouter,
    private readonly logger: Logger,
    private readonly retentionS: number,
    private readonly batch = 500,
    private readonly maxBatches = 20,
    private readonly everyMs = sweepEveryMs(retentionS),
  ) {}

  /** One pass when due; returns how many keys it deleted. */
  async run(now = Date.now()): Promise<number> {
    if (now < this.nextAt) return 0;
    this.nextAt = now + this.everyMs;
    let total = 0;
    for (let i = 0; i < this.maxBatches; i++) {
      const n = await this.db.write((m) => BookingStore.sweepKeys(m, this.retentionS, this.batch));
      total += n;
      if (n < this.batch) break;
    }
    if (total) {
      swept.inc(total);
      this.logger.info({ deleted: total }, 'expired idempotency keys swept');
    }
    return total;
  }
}
