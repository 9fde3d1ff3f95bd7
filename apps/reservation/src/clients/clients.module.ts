import { DynamicModule, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { flag, FeatureFlags } from '@stayline/coordination';
import { SERVICE_REGISTRY, ServiceRegistry } from '@stayline/discovery';
import { OBSERVABILITY_LOGGER } from '@stayline/observability';
import { DependencyClient, MessageAuth } from '@stayline/service-runtime';
import type { Logger } from 'pino';
import { ReservationConfig } from '../config';
import { PaymentClient } from './payment.client';
import { PAYMENT_PORT, RANKING_PORT } from './ports';
import { RankingClient, RECOMMENDATION_ENABLED_FLAG } from './ranking.client';

const DEPENDENCIES = Symbol('DEPENDENCIES');

export const CLIENT_FLAG_DEFAULTS = { [RECOMMENDATION_ENABLED_FLAG]: flag.boolean(true) };

/** reservation's calls to payment (essential) and recommendation (non-essential). */
@Module({})
export class ClientsModule implements OnApplicationShutdown {
  constructor(@Inject(DEPENDENCIES) private readonly clients: DependencyClient[]) {}

  static forRoot(c: ReservationConfig): DynamicModule {
    const breaker = { kind: 'consecutive' as const, threshold: c.BREAKER_THRESHOLD };
    // payment and recommendation accept only messages signed with reservation's own key
    const messageAuth = MessageAuth.fromConfig(c);
    return {
      module: ClientsModule,
      providers: [
        {
          provide: DEPENDENCIES,
          inject: [SERVICE_REGISTRY, OBSERVABILITY_LOGGER],
          useFactory: (registry: ServiceRegistry, logger: Logger) =>
            Promise.all([
              DependencyClient.connect({
                resolver: registry,
                service: 'payment',
                messageAuth,
                strategy: c.LB_STRATEGY,
                logger,
                policy: {
                  name: 'payment',
                  essential: true,
                  timeoutMs: c.PAYMENT_TIMEOUT_MS,
                  breaker,
                  resetTimeoutMs: c.BREAKER_RESET_MS,
                },
              }),
              DependencyClient.connect({
                resolver: registry,
                service: 'recommendation',
                messageAuth,
                strategy: c.LB_STRATEGY,
                logger,
                policy: {
                  name: 'recommendation',
                  essential: false,
                  timeoutMs: c.RECOMMENDATION_TIMEOUT_MS,
                  breaker,
                  resetTimeoutMs: c.BREAKER_RESET_MS,
                  // a ranking is only worth one attempt: the page must not wait for a second
                  retry: { maxAttempts: 1 },
                },
              }),
            ]),
        },
        {
          provide: PAYMENT_PORT,
          inject: [DEPENDENCIES],
          useFactory: ([payment]: DependencyClient[]) => new PaymentClient(payment),
        },
        {
          provide: RANKING_PORT,
          inject: [DEPENDENCIES, FeatureFlags],
          useFactory: ([, recommendation]: DependencyClient[], flags: FeatureFlags) =>
            new RankingClient(recommendation, flags),
        },
      ],
      exports: [PAYMENT_PORT, RANKING_PORT],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}
