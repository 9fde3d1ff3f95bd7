import fs from 'node:fs';
import path from 'node:path';
import { edgeHeaderLines } from './edge';
import {
  DEFAULT_GATEWAY_LIMITS,
  gatewayLimitsProblems,
  GatewayLimits,
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
  /** The share of requests whose trace is sampled, 0..1 (default 1): every hop follows it. */
  traceSample?: number;
}

/**
 * `$stayline_trace_flags`, the traceparent's flags: `01` for the sampled share
 * of requests (split by the request id, so a share is the same requests at
 * every reload), `00` for the rest.
 */
function traceSampling(sample: number): string {
  if (!(sample >= 0 && sample <= 1))
    throw new Error(`traceSample is a share between 0 and 1: ${sample}`);
  const percent = Math.round(sample * 10_000) / 100;
  if (percent >= 100 || percent <= 0)
    return [
      '  map $request_id $stayline_trace_flags {',
      `    default "${percent >= 100 ? '01' : '00'}";`,
      '  }',
    ].join('\n');
  return [
    '  split_clients "$request_id" $stayline_trace_flags {',
    `    ${percent}% "01";`,
    '    *      "00";',
    '  }',
  ].join('\n');
}

/** The configuration's fixed part; `{{NAME}}` placeholders are filled by {@link renderNginxConfig}. */
export const NGINX_TEMPLATE = path.resolve(__dirname, '../nginx.conf.template');

/**
 * A directory of the prefix for server blocks a test kit puts beside the
 * gateway's (the bench's baseline, bench/src/baseline): included only when it
 * exists when the configuration is rendered. The stack kit's nginx makes it;
 * a deployment has none, so its configuration includes nothing more.
 */
export const KIT_SERVERS_DIR = 'conf.d';

function kitServers(prefix: string): string {
  if (!fs.existsSync(path.join(prefix, KIT_SERVERS_DIR))) return '';
  return [
    '',
    `  # server blocks of the stack kit (${KIT_SERVERS_DIR}/ exists in this prefix): test-only`,
    `  include ${path.join(prefix, KIT_SERVERS_DIR)}/*.conf;`,
  ].join('\n');
}

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
  const problems = gatewayLimitsProblems(limits);
  if (problems.length) throw new Error(`gateway limits: ${problems.join('; ')}`);
  if (o.workers !== undefined && (!Number.isInteger(o.workers) || o.workers < 1))
    throw new Error(`workers is a whole number of processes, at least 1: ${o.workers}`);
  if (!KEYED_RETRY_ROUTES.some((r) => r.path === BOOKING_PATH))
    throw new Error(
      `${BOOKING_PATH} must have an exact location (KEYED_RETRY_ROUTES) to be limited`,
    );
  // Every API location counts requests per token; both locations a booking may end in (the
  // plain one, and the keyed one it is rewritten to) count bookings per address and per
  // token too. nginx checks them all and charges none when one refuses. The 429 page is
  // served as a GET: what it answers follows what was refused, kept in $stayline_refused
  // first thing in the location (a rewrite `break` would skip a `set` after it).
  const tokenRequests = `      limit_req zone=tokens burst=${limits.tokenRequestBurst} nodelay;`;
  const limited = (booking: boolean) =>
    booking
      ? [
          '      set $stayline_refused $stayline_booking_refusal;',
          `      limit_req zone=bookings burst=${limits.bookingBurst} nodelay;`,
          `      limit_req zone=token_bookings burst=${limits.tokenBookingBurst} nodelay;`,
          tokenRequests,
        ]
      : ['      set $stayline_refused requests;', tokenRequests];
  const keyed = KEYED_RETRY_ROUTES.map((r, i) =>
    [
      `    location = ${r.path} {`,
      ...limited(r.path === BOOKING_PATH),
      `      if ($http_idempotency_key != "") { rewrite ^ /_gateway/keyed/${i} last; }`,
      `      proxy_pass http://${r.service}${r.path};`,
      '    }',
      // the services take a trailing slash for the path itself (Express routes are not
      // strict): without this a booking sent there would pass by its limits
      `    location = ${r.path}/ {`,
      `      rewrite ^ ${r.path} last;`,
      '    }',
      `    location = /_gateway/keyed/${i} {`,
      '      internal;',
      ...limited(r.path === BOOKING_PATH),
      `      rewrite ^ ${r.path} break;`,
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
        ...(r.prefix.startsWith('/api/')
          ? // a prefix location: cancels and reads, never a booking (those have exact ones)
            limited(false)
          : // no limit but the connections: what a 429 here answers
            ['      set $stayline_refused connections;']),
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
    TOKEN_REQUEST_RATE: limits.tokenRequestRate,
    TOKEN_REQUEST_RETRY_AFTER: String(retryAfterSeconds(limits.tokenRequestRate)),
    TOKEN_BOOKING_RATE: limits.tokenBookingRate,
    // a booking with a token was refused by one of three limits: after the longest wait, each lets one through
    TOKEN_BOOKING_RETRY_AFTER: String(
      Math.max(
        ...[limits.bookingRate, limits.tokenBookingRate, limits.tokenRequestRate].map(
          retryAfterSeconds,
        ),
      ),
    ),
    CONNECTIONS_PER_CLIENT: String(limits.connectionsPerClient),
    // which instance answered names the machines behind the edge: hidden unless asked for
    INSTANCE_ID: limits.exposeInstanceId
      ? '    # X-Instance-Id passes: this gateway is asked to show which instance answered'
      : '    proxy_hide_header X-Instance-Id;',
    EDGE_HEADERS: edgeHeaderLines('    ').join('\n'),
    EDGE_HEADERS_IN_LOCATION: edgeHeaderLines('      ').join('\n'),
    UPSTREAMS: upstreams,
    LOCATIONS: locations,
    KIT_SERVERS: kitServers(o.prefix),
    TRACE_SAMPLE: `${Math.round((o.traceSample ?? 1) * 10_000) / 100}%`,
    TRACE_SAMPLING: traceSampling(o.traceSample ?? 1),
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
