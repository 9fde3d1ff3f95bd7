import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Module,
  RequestMethod,
  type DynamicModule,
  type MiddlewareConsumer,
  type NestModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import { HealthController } from './health.controller';
import { HealthRegistry, healthRegistry } from './health-registry';
import { createLogger, type LoggerOptions } from './logger';
import { MetricsController } from './metrics.controller';
import { clientRequestId, RequestIdMiddleware, ensureRequestId } from './request-id.middleware';
import { RequestMetricsMiddleware } from './request-metrics.middleware';
import { flushTracing } from '../tracing';

/** Options of {@link ObservabilityModule.forRoot}: the logger's. */
export type ObservabilityOptions = LoggerOptions;

/** Injection token of the service's root pino logger (the one behind nestjs-pino). */
export const OBSERVABILITY_LOGGER = Symbol('OBSERVABILITY_LOGGER');

const EVERY_ROUTE = { path: '{/*splat}', method: RequestMethod.ALL };
// probes, scrapes and span exports (the dashboard's OTLP receiver): machine traffic every
// second, not requests worth a line each
const UNLOGGED = /^\/(metrics|health|v1\/traces)(\/|\?|$)/;

type IdentifiedRequest = IncomingMessage & { id?: unknown };

/**
 * pino-http settings: our request id (and the client's own, when the gateway
 * passed one on), short req/res fields, probes not logged.
 */
export function pinoHttpOptions(logger: Logger): PinoHttpOptions {
  const withRequestId = (req: IdentifiedRequest, _res: ServerResponse, value: object) => {
    const client = clientRequestId(req);
    return { ...value, requestId: req.id, ...(client ? { clientRequestId: client } : {}) };
  };
  return {
    logger,
    genReqId: ensureRequestId,
    serializers: {
      req: (req: IncomingMessage) => ({ method: req.method, url: req.url }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
    customSuccessObject: withRequestId,
    customErrorObject: withRequestId,
    autoLogging: { ignore: (req) => UNLOGGED.test(req.url ?? '') },
  };
}

/**
 * Logging (nestjs-pino; every line carries the request id), the request-id
 * middleware, the request metrics (rate, errors, duration per route), `GET
 * /metrics` and the health endpoints, for one service.
 * Let Nest log through it with `app.useLogger(app.get(Logger))` (nestjs-pino).
 */
@Module({})
export class ObservabilityModule implements NestModule, OnApplicationShutdown {
  /** Wires everything for the service named in `options`. */
  static forRoot(options: ObservabilityOptions): DynamicModule {
    const logger = createLogger(options);
    return {
      module: ObservabilityModule,
      global: true,
      imports: [
        LoggerModule.forRoot({ pinoHttp: pinoHttpOptions(logger) }),
        TerminusModule.forRoot(),
      ],
      controllers: [MetricsController, HealthController],
      providers: [
        { provide: HealthRegistry, useValue: healthRegistry },
        { provide: OBSERVABILITY_LOGGER, useValue: logger },
      ],
      exports: [HealthRegistry, OBSERVABILITY_LOGGER],
    };
  }

  /**
   * The spans still queued leave before the process does (a stop runs this after the
   * servers closed, the last requests' spans included), waiting 2 s at most.
   */
  async onApplicationShutdown(): Promise<void> {
    const timer = new AbortController();
    await Promise.race([
      flushTracing().catch(() => undefined),
      sleep(2_000, undefined, { signal: timer.signal, ref: false }).catch(() => undefined),
    ]);
    timer.abort();
  }

  /** Runs every request inside its RequestContext, and counts and times it. */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestMetricsMiddleware, RequestIdMiddleware).forRoutes(EVERY_ROUTE);
  }
}
