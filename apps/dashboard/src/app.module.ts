import { DynamicModule, Module } from '@nestjs/common';
import { CoordinationModule } from '@stayline/coordination';
import { DiscoveryModule } from '@stayline/discovery';
import { OBSERVABILITY_LOGGER, ObservabilityModule } from '@stayline/observability';
import { chosenCoordination, chosenRegistry } from '@stayline/service-runtime';
import type { Logger } from 'pino';
import { DashboardConfig } from './config';
import { DashboardController } from './http/dashboard.controller';
import { EventStream } from './http/event-stream';
import { DASHBOARD_CONFIG, TopologyCollector } from './topology/topology-collector';

/**
 * The dashboard imports logs, metrics, health and discovery, but not
 * `platformImports`: it has no database, no TCP port and no admin routes,
 * it only reads.
 */
@Module({})
export class AppModule {
  static forRoot(c: DashboardConfig): DynamicModule {
    const redis = { sentinels: c.REDIS_SENTINELS, masterName: c.REDIS_MASTER_NAME };
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: c.SERVICE_NAME, level: c.LOG_LEVEL }),
        // the registry and the flags on the backends the services use, or it would watch another store
        CoordinationModule.forRootAsync({
          inject: [OBSERVABILITY_LOGGER],
          useFactory: (logger: Logger) => ({
            service: c.SERVICE_NAME,
            backend: chosenCoordination(c, redis, logger),
          }),
        }),
        DiscoveryModule.forRootAsync({
          inject: [OBSERVABILITY_LOGGER],
          useFactory: (logger: Logger) => ({
            service: c.SERVICE_NAME,
            instanceId: c.INSTANCE_ID,
            version: c.VERSION,
            host: c.ADVERTISE_HOST ?? c.HOST,
            httpPort: c.HTTP_PORT,
            redis,
            registry: chosenRegistry(c, redis, logger),
            drainDelayMs: c.DRAIN_DELAY_MS,
          }),
        }),
      ],
      controllers: [DashboardController],
      providers: [{ provide: DASHBOARD_CONFIG, useValue: c }, TopologyCollector, EventStream],
    };
  }
}
