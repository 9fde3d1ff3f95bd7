import {
  RECOMMENDATION_CONSUMER_GROUP,
  RESERVATION_EVENTS_STREAM,
  ReservationEvent,
} from '@stayline/contracts';
import { ReplicaRouter } from '@stayline/database';
import { counter } from '@stayline/observability';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { AffinityStore } from './affinity.store';

const events = counter('stayline_recommendation_events_total', 'Reservation events by outcome', [
  'outcome',
]);

type StreamEntry = [id: string, fields: string[]];
type StreamReply = Array<[stream: string, entries: StreamEntry[]]> | null;

export interface ConsumerOptions {
  /** How long one XREADGROUP waits for new events. */
  blockMs: number;
  /** Events another consumer took but did not acknowledge for this long are taken over (it probably died). */
  claimIdleMs: number;
}

/**
 * Learns from reservation events, delivered at least once by a Redis Stream
 * consumer group: an event is acknowledged only after its effect is committed,
 * so a crash in between redelivers it, and {@link AffinityStore.apply} ignores
 * the duplicate. Events left pending by a dead consumer are claimed after `claimIdleMs`.
 */
export class ReservationEventsConsumer {
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly db: ReplicaRouter,
    private readonly consumer: string,
    private readonly logger: Logger,
    private readonly o: ConsumerOptions = { blockMs: 500, claimIdleMs: 30_000 },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup(
        'CREATE',
        RESERVATION_EVENTS_STREAM,
        RECOMMENDATION_CONSUMER_GROUP,
        '0',
        'MKSTREAM',
      );
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  private async run(): Promise<void> {
    let groupReady = false;
    let lastClaim = 0;
    while (this.running) {
      try {
        if (!groupReady) {
          await this.ensureGroup();
          groupReady = true;
          // first what this consumer took before a restart and never acknowledged
          await this.consume('0');
        }
        if (Date.now() - lastClaim > this.o.claimIdleMs) {
          lastClaim = Date.now();
          await this.claimAbandoned();
        }
        await this.consume('>');
      } catch (err) {
        const message = (err as Error).message;
        // after a Redis failover the stream may have to be set up again
        if (message.includes('NOGROUP')) groupReady = false;
        this.logger.warn({ err: message }, 'reservation events: read failed, retrying');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  private async consume(from: '0' | '>'): Promise<void> {
    const block = from === '>' ? ['BLOCK', String(this.o.blockMs)] : [];
    const reply = (await this.redis.call(
      'XREADGROUP',
      ...['GROUP', RECOMMENDATION_CONSUMER_GROUP, this.consumer, 'COUNT', '50', ...block],
      ...['STREAMS', RESERVATION_EVENTS_STREAM, from],
    )) as StreamReply;
    for (const [, entries] of reply ?? []) for (const entry of entries) await this.handle(entry);
  }

  private async claimAbandoned(): Promise<void> {
    const [, entries] = (await this.redis.xautoclaim(
      RESERVATION_EVENTS_STREAM,
      RECOMMENDATION_CONSUMER_GROUP,
      this.consumer,
      this.o.claimIdleMs,
      '0',
      'COUNT',
      100,
    )) as [string, StreamEntry[]];
    for (const entry of entries) await this.handle(entry);
  }

  private async handle([id, fields]: StreamEntry): Promise<void> {
    if (!fields) return; // deleted entry
    const raw = fields[fields.indexOf('event') + 1];
    let event: ReservationEvent;
    try {
      event = JSON.parse(raw) as ReservationEvent;
      if (!event.eventId || !event.userId || !event.listingId) throw new Error('missing fields');
    } catch (err) {
      // a malformed event can never succeed: acknowledge it so it does not block the stream
      this.logger.error(
        { id, err: (err as Error).message },
        'reservation events: malformed event dropped',
      );
      events.inc({ outcome: 'malformed' });
      await this.redis.xack(RESERVATION_EVENTS_STREAM, RECOMMENDATION_CONSUMER_GROUP, id);
      return;
    }
    const applied = await this.db.transaction((m) => AffinityStore.apply(m, event));
    await this.redis.xack(RESERVATION_EVENTS_STREAM, RECOMMENDATION_CONSUMER_GROUP, id);
    events.inc({ outcome: applied ? 'applied' : 'duplicate' });
  }
}
