import { Controller, Get, Header } from '@nestjs/common';
import { metricsRegistry } from './metrics';

/** `GET /metrics`: the process's Prometheus metrics. */
@Controller('metrics')
export class MetricsController {
  /** The registry in Prometheus text format. */
  @Get()
  @Header('Content-Type', metricsRegistry.contentType)
  metrics(): Promise<string> {
    return metricsRegistry.metrics();
  }
}
