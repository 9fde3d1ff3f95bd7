import { pino, type DestinationStream, type Logger } from 'pino';
import { RequestContext } from './request-context';
import { traceIdsOfRunningSpan } from './trace';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Service name written on every line (`service`). */
  service: string;
  /** Minimum level; defaults to `LOG_LEVEL` or `info`. */
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

/**
 * Adds the running request's id to every line logged inside a RequestContext,
 * and the running span's `trace_id` and `span_id` when its trace is sampled.
 */
export function requestContextMixin(): Record<string, unknown> {
  const requestId = RequestContext.requestId();
  const ids = traceIdsOfRunningSpan();
  if (requestId === undefined) return ids ?? {};
  return ids ? { requestId, ...ids } : { requestId };
}

/**
 * A pino logger writing one JSON line per event, with `service` and `pid` on
 * every line and `requestId` (with `trace_id` and `span_id` when sampled) on lines logged while a request is running.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
      base: { service: options.service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: requestContextMixin,
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
