import { DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@stayline/discovery';
import { ObservabilityModule } from '@stayline/observability';
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
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: c.SERVICE_NAME, level: c.LOG_LEVEL }),
        DiscoveryModule.forRoot({
          service: c.SERVICE_NAME,
          instanceId: c.INSTANCE_ID,
          version: c.VERSION,
          host: c.ADVERTISE_HOST ?? c.HOST,
          httpPort: c.HTTP_PORT,
          redis: { sentinels: c.REDIS_SENTINELS, masterName: c.REDIS_MASTER_NAME },
          drainDelayMs: c.DRAIN_DELAY_MS,
        }),
      ],
      controllers: [DashboardController],
      providers: [{ provide: DASHBOARD_CONFIG, useValue: c }, TopologyCollector, EventStream],
    };
  }
}
