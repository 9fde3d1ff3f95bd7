import { DynamicModule, Module } from '@nestjs/common';
import { ObservabilityModule } from '@stayline/observability';
import { coordinatorImports } from '@stayline/service-runtime';
import { CHARTS_SOURCE, ChartsController, chartsSourceOf } from './charts/charts.controller';
import { DashboardConfig } from './config';
import { DashboardController } from './http/dashboard.controller';
import { EventStream } from './http/event-stream';
import { DASHBOARD_CONFIG, TopologyCollector } from './topology/topology-collector';
import { TracesController } from './traces/traces.controller';
import { TraceStore } from './traces/trace-store';

/**
 * The dashboard imports logs, metrics, health, coordination and discovery, but
 * not `platformImports`: it has no database, no TCP port and no admin routes,
 * it only reads.
 */
@Module({})
export class AppModule {
  static forRoot(c: DashboardConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: c.SERVICE_NAME, level: c.LOG_LEVEL }),
        // the registry and the flags on the backends the services use, or it would watch another store
        ...coordinatorImports(c, { sweepLeases: false }),
      ],
      controllers: [DashboardController, ChartsController, TracesController],
      providers: [
        { provide: DASHBOARD_CONFIG, useValue: c },
        { provide: CHARTS_SOURCE, useValue: chartsSourceOf(c) },
        TopologyCollector,
        EventStream,
        { provide: TraceStore, useValue: new TraceStore(c.TRACES_KEPT) },
      ],
    };
  }
}
