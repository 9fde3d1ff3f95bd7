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
  DynamicModule,
  FactoryProvider,
  Global,
  InjectionToken,
  Module,
  ModuleMetadata,
  OptionalFactoryDependency,
  Provider,
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

export interface DiscoveryModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useFactory: (...args: never[]) => DiscoveryModuleOptions | Promise<DiscoveryModuleOptions>;
}

const EXPORTS = [SERVICE_REGISTRY, DiscoveryLifecycle];

@Global()
@Module({})
export class DiscoveryModule {
  static forRoot(options: DiscoveryModuleOptions): DynamicModule {
    return DiscoveryModule.build({ provide: DISCOVERY_OPTIONS, useValue: options }, []);
  }

  static forRootAsync(options: DiscoveryModuleAsyncOptions): DynamicModule {
    const provider: FactoryProvider = {
      provide: DISCOVERY_OPTIONS,
      useFactory: options.useFactory,
      inject: options.inject ?? [],
    };
    return DiscoveryModule.build(provider, options.imports ?? []);
  }

  private static build(
    optionsProvider: Provider,
    imports: NonNullable<ModuleMetadata['imports']>,
  ): DynamicModule {
    return {
      module: DiscoveryModule,
      global: true,
      imports,
      providers: [
        optionsProvider,
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
      exports: EXPORTS,
    };
  }
}
