import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable, type NestMiddleware } from '@nestjs/common';
import { counter, histogram } from './metrics';

/** Seconds: from a cached read (1 ms) to the gateway's longest read timeout (10 s). */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const requests = counter(
  'http_server_requests_total',
  'HTTP requests answered, by method, route pattern and status code',
  ['method', 'route', 'status'],
);
const duration = histogram(
  'http_server_request_duration_seconds',
  'From the request reaching the service to the last byte of its answer, by method and route pattern',
  ['method', 'route'],
  BUCKETS,
);

/** The probes are polled every second or so: counted, they would be most of an idle instance's traffic. */
const PROBES = /^\/(metrics|health)(\/|\?|$)/;

type RoutedRequest = IncomingMessage & {
  route?: { path?: unknown };
  baseUrl?: string;
  originalUrl?: string;
};

/**
 * The route's pattern (`/api/reservations/:id`), never the URL: a label must take
 * a bounded set of values. A request no route matched is `unmatched`: it still
 * carries the catch-all route Nest mounts the middleware on (`{/*splat}`), and no
 * controller of stayline's uses a wildcard.
 */
export function routeOf(req: RoutedRequest): string {
  const path = req.route?.path;
  return typeof path === 'string' && !/[*{]/.test(path)
    ? `${req.baseUrl ?? ''}${path}`
    : 'unmatched';
}

/**
 * Rate, errors and duration of every HTTP request but the probes
 * (`http_server_requests_total`, `http_server_request_duration_seconds`),
 * recorded when the answer is finished: the status is the one the client got,
 * after every filter, and the time includes guards (the token's verification).
 */
@Injectable()
export class RequestMetricsMiddleware implements NestMiddleware {
  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    const url = (req as RoutedRequest).originalUrl ?? req.url ?? '';
    if (!PROBES.test(url)) {
      const started = performance.now();
      res.once('finish', () => {
        const labels = { method: req.method ?? 'UNKNOWN', route: routeOf(req as RoutedRequest) };
        requests.inc({ ...labels, status: String(res.statusCode) });
        duration.observe(labels, (performance.now() - started) / 1000);
      });
    }
    next();
  }
}
