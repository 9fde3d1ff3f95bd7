import { RESERVATION_EVENTS_STREAM } from '@stayline/contracts';
import { ReplicaRouter } from '@stayline/database';
import { counter, gauge } from '@stayline/observability';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { fence } from '../reconciler/fence';

export const RELAY_FENCE = 'reservation.outbox-relay';

const relayed = counter(
  'stayline_reservation_outbox_relayed_total',
  'Outbox events published to the stream',
  [],
);

const backlog = gauge(
  'stayline_reservation_outbox_backlog',
  'Outbox events the last poll found unpublished (at most the batch, 100: then at least that many)',
  [],
);

/**
 * The transactional outbox's relay: events were written in the same transaction
 * as the change they describe; this publishes them to the Redis Stream and marks
 * them sent only once a Redis replica has them too (WAIT), so a Sentinel
 * failover cannot lose them. A crash between publish and mark sends an event
 * twice; the consumer applies it once. Run by the leader only (in order).
 */
export class OutboxRelay {
  constructor(
    private readonly db: ReplicaRouter,
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly batch = 100,
  ) {}

  async run(token: number): Promise<number> {
    // polled twice a second, busy or idle: one statement, no transaction, no GTID round trip
    const rows = (await this.db.write(
      (m) =>
        m.query('SELECT id, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?', [
          this.batch,
        ]),
      { readOnly: true },
    )) as Array<{ id: string; payload: string }>;
    backlog.set(rows.length);
    if (rows.length === 0) return 0;
    // one round trip for the batch, in order (a pipeline is sent as written)
    const pipeline = this.redis.pipeline();
    for (const row of rows)
      pipeline.xadd(RESERVATION_EVENTS_STREAM, 'MAXLEN', '~', '100000', '*', 'event', row.payload);
    for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
    const replicas = Number(await this.redis.call('WAIT', '1', '1000'));
    if (replicas < 1) {
      this.logger.warn(
        { events: rows.length },
        'outbox: no Redis replica acknowledged; will publish again',
      );
      return 0;
    }
    await this.db.transaction(async (m) => {
      await fence(m, RELAY_FENCE, token);
      await m.query('UPDATE outbox SET published_at = NOW(3) WHERE id IN (?)', [
        rows.map((r) => r.id),
      ]);
    });
    relayed.inc(rows.length);
    return rows.length;
  }
}
