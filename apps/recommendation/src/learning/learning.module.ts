import {
  BeforeApplicationShutdown,
  DynamicModule,
  Inject,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ReplicaRouter } from '@stayline/database';
import { OBSERVABILITY_LOGGER } from '@stayline/observability';
import { RedisConfig, sentinelRedisProvider } from '@stayline/service-runtime';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { ReservationEventsConsumer } from './reservation-events.consumer';

const EVENTS_REDIS = Symbol('EVENTS_REDIS');

export interface LearningOptions {
  /** Where the Sentinels are and the service's Redis logins (its validated config). */
  redis: RedisConfig;
  consumerName: string;
}

/** Runs the reservation-events consumer for the lifetime of the app. */
@Module({})
export class LearningModule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly consumer: ReservationEventsConsumer,
    @Inject(EVENTS_REDIS) private readonly redis: Redis,
  ) {}

  static forRoot(o: LearningOptions): DynamicModule {
    return {
      module: LearningModule,
      providers: [
        // blocking reads need their own connection and a timeout longer than the block
        sentinelRedisProvider(EVENTS_REDIS, o.redis, {
          connectionName: o.consumerName,
          commandTimeoutMs: 5_000,
        }),
        {
          provide: ReservationEventsConsumer,
          useFactory: (redis: Redis, db: ReplicaRouter, logger: Logger) =>
            new ReservationEventsConsumer(
              redis,
              db,
              o.consumerName,
              logger.child({ component: 'reservation-events' }),
            ),
          inject: [EVENTS_REDIS, ReplicaRouter, OBSERVABILITY_LOGGER],
        },
      ],
    };
  }

  onApplicationBootstrap(): void {
    this.consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
    this.redis.disconnect();
  }
}
