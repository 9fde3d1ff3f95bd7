/**
 * The NestJS face of discovery (docs/patterns/service-discovery.md): registers
 * the app once it listens, deregisters it first on shutdown and drains;
 * provides the registry; reports it to health and metrics. Flags and
 * leadership come from CoordinationModule (@stayline/coordination).
 *
 * @example
 *   DiscoveryModule.forRootAsync({
 *     inject: [ConfigService],
 *     useFactory: (c: ConfigService) => ({ service: 'reservation', tcpPort: c.get('TCP_PORT'), redis: parseRedisTarget(c.get('REDIS_URL')) }),
 *   })
 *   // main.ts: app.enableShutdownHooks();
 *   //   app.connectMicroservice(tcpOptions, { inheritAppConfig: true }); // the in-flight count covers TCP handlers too
 *   //   await app.startAllMicroservices(); await app.listen(port);      // registered once listening
 */
import {
  ConfigurableModuleAsyncOptions,
  ConfigurableModuleBuilder,
  Global,
  Module,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { CoordinationLogger } from '@stayline/coordination';
import { createLogger, OBSERVABILITY_LOGGER } from '@stayline/observability';
import { RedisRegistry } from '../redis.registry';
import { DiscoveryLifecycle } from './discovery.lifecycle';
import {
  DISCOVERY_LOGGER,
  DISCOVERY_OPTIONS,
  DiscoveryModuleOptions,
  SERVICE_REGISTRY,
} from './discovery.options';
import { InFlightInterceptor, InFlightTracker } from './in-flight.interceptor';

const { ConfigurableModuleClass } = new ConfigurableModuleBuilder<DiscoveryModuleOptions>({
  optionsInjectionToken: DISCOVERY_OPTIONS,
})
  .setClassMethodName('forRoot')
  .build();

/** Options of {@link DiscoveryModule.forRootAsync}: `imports`, `inject` and `useFactory` (or `useClass`). */
export type DiscoveryModuleAsyncOptions = ConfigurableModuleAsyncOptions<DiscoveryModuleOptions>;

@Global()
@Module({
  providers: [
    {
      provide: DISCOVERY_LOGGER,
      inject: [DISCOVERY_OPTIONS, { token: OBSERVABILITY_LOGGER, optional: true }],
      useFactory: (o: DiscoveryModuleOptions, logger?: CoordinationLogger) =>
        logger ?? createLogger({ service: o.service }),
    },
    {
      provide: SERVICE_REGISTRY,
      inject: [DISCOVERY_OPTIONS, DISCOVERY_LOGGER],
      useFactory: (o: DiscoveryModuleOptions, logger: CoordinationLogger) =>
        o.registry ?? new RedisRegistry({ redis: o.redis, logger }),
    },
    InFlightTracker,
    DiscoveryLifecycle,
    { provide: APP_INTERCEPTOR, useClass: InFlightInterceptor },
  ],
  exports: [SERVICE_REGISTRY, DiscoveryLifecycle],
})
export class DiscoveryModule extends ConfigurableModuleClass {}
