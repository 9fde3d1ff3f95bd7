import {
  BeforeApplicationShutdown,
  DynamicModule,
  Inject,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { Leadership } from '@stayline/coordination';
import { ReplicaRouter } from '@stayline/database';
import { OBSERVABILITY_LOGGER } from '@stayline/observability';
import { sentinelRedisProvider } from '@stayline/service-runtime';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { PAYMENT_PORT, PaymentPort } from '../clients/ports';
import { ReservationConfig } from '../config';
import { OutboxRelay } from '../outbox/outbox-relay';
import { BackgroundWorkers } from './background-workers';
import { IdempotencyKeySweeper } from './key-sweeper';
import { PaymentReconciler } from './payment-reconciler';

const EVENTS_REDIS = Symbol('EVENTS_REDIS');
/** The election the reservation instances hold for their background work. */
export const WORKERS_ELECTION = 'reservation.background-workers';

@Module({})
export class WorkersModule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly workers: BackgroundWorkers,
    @Inject(EVENTS_REDIS) private readonly redis: Redis,
  ) {}

  static forRoot(c: ReservationConfig): DynamicModule {
    return {
      module: WorkersModule,
      providers: [
        sentinelRedisProvider(EVENTS_REDIS, c, {
          connectionName: `${c.INSTANCE_ID}-outbox`,
          commandTimeoutMs: 3_000,
        }),
        {
          provide: BackgroundWorkers,
          inject: [Leadership, ReplicaRouter, PAYMENT_PORT, EVENTS_REDIS, OBSERVABILITY_LOGGER],
          useFactory: (
            leadership: Leadership,
            db: ReplicaRouter,
            payment: PaymentPort,
            redis: Redis,
            logger: Logger,
          ) => {
            const log = logger.child({ component: 'background-workers' });
            return new BackgroundWorkers(
              leadership.election(WORKERS_ELECTION),
              new PaymentReconciler(db, payment, log, c.RECONCILE_AFTER_MS),
              new OutboxRelay(db, redis, log),
              new IdempotencyKeySweeper(db, log, c.IDEMPOTENCY_KEY_RETENTION_S),
              log,
            );
          },
        },
      ],
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.workers.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.workers.stop();
    this.redis.disconnect();
  }
}
