export { createLogger, requestContextMixin, type LoggerOptions } from './lib/logger';
export { RequestContext } from './lib/request-context';
export {
  extractTraceContext,
  injectTraceContext,
  inSpan,
  spanAttributes,
  spanEvent,
  SpanKind,
  startServerSpan,
  type ServerSpan,
  SpanStatusCode,
  traceIdsOfRunningSpan,
  tracer,
  type InSpanOptions,
} from './lib/trace';
export { RoundRobin } from './lib/round-robin';
export {
  CLIENT_REQUEST_ID_HEADER,
  clientRequestId,
  REQUEST_ID_HEADER,
  RequestIdMiddleware,
  ensureRequestId,
  requestIdMiddleware,
} from './lib/request-id.middleware';
export { counter, gauge, histogram, metricsHandler, metricsRegistry } from './lib/metrics';
export { MetricsController } from './lib/metrics.controller';
export {
  HealthRegistry,
  healthRegistry,
  worstStatus,
  type HealthIndicator,
  type HealthProbe,
  type HealthReport,
  type HealthStatus,
  type HealthSummary,
} from './lib/health-registry';
export { HealthController, type HealthResponse } from './lib/health.controller';
export {
  OBSERVABILITY_LOGGER,
  ObservabilityModule,
  pinoHttpOptions,
  type ObservabilityOptions,
} from './lib/observability.module';
