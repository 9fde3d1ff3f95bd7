import fs from 'node:fs';
import path from 'node:path';
import { edgeHeaderLines } from './edge';
import {
  DEFAULT_GATEWAY_LIMITS,
  GatewayLimits,
  isConnectionLimit,
  retryAfterSeconds,
} from './limits';
import {
  BOOKING_PATH,
  GATEWAY_ROUTES,
  gatewayServices,
  KEYED_RETRY_ROUTES,
  READ_ONLY_ANSWER_S,
} from './routes';
import { Upstream, upstreamAddress, upstreamProblem } from './upstream';

/**
 * The nginx gateway's configuration: one upstream per service with passive
 * health checks (max_fails / fail_timeout), one location per public route.
 * See docs/patterns/load-balancing.md.
 */
export interface NginxOptions {
  prefix: string;
  host: string;
  port: number;
  upstreams?: Record<string, Upstream[]>;
  maxBody?: string;
  readTimeout?: string;
  /** nginx's worker processes; without it, `auto`: one per CPU core. */
  workers?: number;
  /** passive health check: failures before an instance is skipped for `failTimeout` */
  maxFails?: number;
  failTimeout?: string;
  /** How long an idle keepalive connection to an upstream is kept; below the services' 5 s. */
  upstreamKeepaliveTimeout?: string;
  /** Per-client limits; the rest from {@link DEFAULT_GATEWAY_LIMITS}. */
  limits?: Partial<GatewayLimits>;
}

/** The configuration's fixed part; `{{NAME}}` placeholders are filled by {@link renderNginxConfig}. */
export const NGINX_TEMPLATE = path.resolve(__dirname, '../nginx.conf.template');

function upstreamBlock(service: string, servers: Upstream[], o: NginxOptions): string {
  // the sync dropped what the registry held that is not an address; this is the last check
  // before nginx reads it: a host such as "10.0.0.1:80; } server { ..." would be configuration
  for (const s of servers) {
    const problem = upstreamProblem(s);
    if (problem) throw new Error(`upstream ${service}: ${problem}; nothing rendered`);
  }
  const lines = servers.length
    ? servers.map(
        (s) =>
          `    server ${upstreamAddress(s)} max_fails=${o.maxFails ?? 2} fail_timeout=${o.failTimeout ?? '5s'};`,
      )
    : // an upstream may not be empty: a placeholder that is always down answers 502 until instances register
      ['    server 127.0.0.1:9 down;'];
  return [
    `  upstream ${service} {`,
    ...lines,
    '    keepalive 64;',
    // shorter than Node's keepAliveTimeout (5 s): nginx closes an idle connection
    // before the service does, so it never sends a request on one being closed
    `    keepalive_timeout ${o.upstreamKeepaliveTimeout ?? '4s'};`,
    '  }',
  ].join('\n');
}

/**
 * How long nginx may spend on one request across instances: one attempt that
 * timed out and a second one, so an attempt cut by a partition is tried again
 * (a window shorter than the read timeout would never retry a timeout).
 */
function retryWindow(readS: number): number {
  return 2 * readS + 1;
}

/** Renders the gateway config from the template beside this library (`src/nginx.conf.template`). */
export function renderNginxConfig(o: NginxOptions): string {
  const services = gatewayServices();
  const upstreams = services.map((s) => upstreamBlock(s, o.upstreams?.[s] ?? [], o)).join('\n\n');
  const limits = { ...DEFAULT_GATEWAY_LIMITS, ...o.limits };
  if (!Number.isInteger(limits.bookingBurst) || limits.bookingBurst < 0)
    throw new Error(`bookingBurst is a whole number of requests: ${limits.bookingBurst}`);
  if (!isConnectionLimit(limits.connectionsPerClient))
    throw new Error(
      `connectionsPerClient is a whole number from 1 to 65535: ${limits.connectionsPerClient}`,
    );
  if (typeof limits.exposeInstanceId !== 'boolean')
    throw new Error(`exposeInstanceId is true or false: ${String(limits.exposeInstanceId)}`);
  if (o.workers !== undefined && (!Number.isInteger(o.workers) || o.workers < 1))
    throw new Error(`workers is a whole number of processes, at least 1: ${o.workers}`);
  if (!KEYED_RETRY_ROUTES.some((r) => r.path === BOOKING_PATH))
    throw new Error(
      `${BOOKING_PATH} must have an exact location (KEYED_RETRY_ROUTES) to be limited`,
    );
  // both locations a booking may end in: the plain one, and the keyed one it is rewritten to
  const limited = (path: string) =>
    path === BOOKING_PATH
      ? [`      limit_req zone=bookings burst=${limits.bookingBurst} nodelay;`]
      : [];
  const keyed = KEYED_RETRY_ROUTES.map((r, i) =>
    [
      `    location = ${r.path} {`,
      `      if ($http_idempotency_key != "") { rewrite ^ /_gateway/keyed/${i} last; }`,
      ...limited(r.path),
      `      proxy_pass http://${r.service}${r.path};`,
      '    }',
      `    location = /_gateway/keyed/${i} {`,
      '      internal;',
      `      rewrite ^ ${r.path} break;`,
      ...limited(r.path),
      '      proxy_next_upstream error timeout http_502 non_idempotent;',
      `      proxy_pass http://${r.service};`,
      '    }',
    ].join('\n'),
  );
  const locations = [
    ...keyed,
    ...GATEWAY_ROUTES.map((r) =>
      [
        `    location ${r.prefix} {`,
        ...(r.readOnly
          ? [
              `      proxy_read_timeout ${READ_ONLY_ANSWER_S}s;`,
              `      proxy_next_upstream_timeout ${retryWindow(READ_ONLY_ANSWER_S)}s;`,
            ]
          : []),
        // a page for a browser: its policy, and so (nginx's rule) every edge header again
        ...(r.contentSecurityPolicy
          ? edgeHeaderLines('      ', { 'Content-Security-Policy': r.contentSecurityPolicy })
          : []),
        // with a URI part nginx sends the normalised path (dot segments resolved,
        // escapes decoded once and re-encoded), never the client's raw one
        `      proxy_pass http://${r.service}${r.prefix};`,
        '    }',
      ].join('\n'),
    ),
  ].join('\n\n');
  const readTimeout = o.readTimeout ?? '10s';
  const readS = /^(\d+)s$/.exec(readTimeout)?.[1];
  if (!readS) throw new Error(`readTimeout is whole seconds, e.g. "10s": ${readTimeout}`);
  const values: Record<string, string> = {
    PREFIX: o.prefix,
    HOST: o.host,
    PORT: String(o.port),
    WORKERS: o.workers === undefined ? 'auto' : String(o.workers),
    MAX_BODY: o.maxBody ?? '64k',
    READ_TIMEOUT: readTimeout,
    RETRY_WINDOW: `${retryWindow(Number(readS))}s`,
    BOOKING_RATE: limits.bookingRate,
    BOOKING_RETRY_AFTER: String(retryAfterSeconds(limits.bookingRate)),
    CONNECTIONS_PER_CLIENT: String(limits.connectionsPerClient),
    // which instance answered names the machines behind the edge: hidden unless asked for
    INSTANCE_ID: limits.exposeInstanceId
      ? '    # X-Instance-Id passes: this gateway is asked to show which instance answered'
      : '    proxy_hide_header X-Instance-Id;',
    EDGE_HEADERS: edgeHeaderLines('    ').join('\n'),
    EDGE_HEADERS_IN_LOCATION: edgeHeaderLines('      ').join('\n'),
    UPSTREAMS: upstreams,
    LOCATIONS: locations,
  };
  return fs.readFileSync(NGINX_TEMPLATE, 'utf8').replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`nginx template: unknown placeholder ${key}`);
    return values[key];
  });
}

export function writeNginxConfig(o: NginxOptions): string {
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    fs.mkdirSync(path.join(o.prefix, 'tmp', d), { recursive: true });
  }
  const file = path.join(o.prefix, 'nginx.conf');
  fs.writeFileSync(file, renderNginxConfig(o));
  return file;
}
