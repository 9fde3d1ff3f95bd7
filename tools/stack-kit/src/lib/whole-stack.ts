import fs from 'node:fs';
import path from 'node:path';
import { GiveUp, waitFor } from './wait';
import { which } from './binaries';
import { prometheusUrl, startDashboard } from './dashboard';
import { httpJson } from './http-json';
import { freePorts } from './ports';
import { isAlive, tail } from './process';
import { etcdEnv, pinnedSettings, startService } from './services';
import { gatewayLimitsEnv, gatewayLimitsOf, LOAD_BOOKING_CAP_PER_USER } from './nginx';
import { Component } from './state';
import { entryArgs, REPO_ROOT } from './repo';
import { DEFAULT_AGENT_PORTS, startFailoverAgents } from './failover';
import { Stack, StackOptions } from './stack';
import { type PrometheusOptions, startPrometheus } from './prometheus';

/** The services, in the order they start: callees (and auth, whose keys they will verify with) before their callers. */
export const SERVICE_START_ORDER: ReadonlyArray<readonly string[]> = [
  ['auth', 'payment', 'recommendation'],
  ['reservation', 'scrap'],
];
export const SERVICES = SERVICE_START_ORDER.flat();

/** Fixed ports of the commands (`npm start`, `stack:up`): instance n uses index n-1. Tests draw free ones. */
export const DEFAULT_SERVICE_PORTS: Readonly<Record<string, { http: number[]; tcp: number[] }>> = {
  reservation: { http: [4001, 4002], tcp: [5001, 5002] },
  payment: { http: [4101, 4102], tcp: [5101, 5102] },
  recommendation: { http: [4201, 4202], tcp: [5201, 5202] },
  scrap: { http: [4301, 4302], tcp: [5301, 5302] },
  auth: { http: [4601, 4602], tcp: [] },
};

/** Services that serve HTTP only (no TCP port for other services to call). */
export const HTTP_ONLY_SERVICES: ReadonlySet<string> = new Set(['auth']);
/**
 * The services that keep the platform's data: each follows the published MariaDB
 * topology and applies the feature flags. auth keeps only keys and users, and
 * takes part in neither.
 */
export const DATA_SERVICES: readonly string[] = SERVICES.filter((s) => s !== 'auth');
export const DEFAULT_GATEWAY_SYNC_PORT = 4901;
export const DEFAULT_DASHBOARD_PORT = 4501;

export interface ServicePorts {
  http?: number[];
  tcp?: number[];
}

export interface StartServicesOptions {
  /** Instances of every service. Default 2. */
  instances?: number;
  /** Which services. Default all four. */
  services?: readonly string[];
  /** Fixed ports per service (instance n takes index n-1); omitted ones are drawn free. */
  ports?: Readonly<Record<string, ServicePorts>>;
  /** Extra environment per service (and `gateway-sync`, `dashboard`), over the defaults (scrap: `SCRAP_ALLOW_CIDRS` empty, the SSRF guard on). */
  env?: Readonly<Record<string, Record<string, string>>>;
  /** Start the gateway sync (default: when the stack has nginx). */
  gatewaySync?: boolean;
  /** The sync's own HTTP port; drawn free when omitted. */
  gatewaySyncPort?: number;
  /** One dashboard instance (apps/dashboard) last; default: with every service behind the gateway. */
  dashboard?: boolean;
  /** The dashboard's HTTP port; drawn free when omitted unless `ports` fixes the others (then 4501). */
  dashboardPort?: number;
  log?: (line: string) => void;
}

export interface StartedServices {
  instances: Component[];
  sync?: Component;
  /** From the first spawn to the gateway routing to every instance. */
  startupMs: number;
}

/** Defaults every instance of a service gets unless the caller overrides them. */
const SERVICE_DEFAULT_ENV: Readonly<Record<string, Record<string, string>>> = {
  // no private range is fetchable unless someone allows it on purpose
  scrap: { SCRAP_ALLOW_CIDRS: '' },
  // the loads these stacks carry book as a few users (LOAD_BOOKING_CAP_PER_USER)
  reservation: { BOOKING_MAX_ACTIVE_PER_USER: String(LOAD_BOOKING_CAP_PER_USER) },
};

/**
 * Starts `instances` instances of every service on a running stack (payment
 * and recommendation first, then their caller reservation, with scrap), and the
 * gateway sync that puts them behind nginx; resolves once nginx routes to every
 * instance. Used by the commands, the e2e tests and the benchmarks.
 *
 * @example
 *   const stack = await startStack();
 *   await startServices(stack, { instances: 2 });
 *   const tokens = UserTokens.of(stack);
 *   await fetch(`${stack.nginx.url}/api/listings`, { headers: await tokens.headers('u-1') });
 */
export async function startServices(
  stack: Stack,
  o: StartServicesOptions = {},
): Promise<StartedServices> {
  const t0 = Date.now();
  const log = o.log ?? (() => undefined);
  const count = o.instances ?? 2;
  const wanted = o.services ?? SERVICES;
  const withSync = o.gatewaySync ?? stack.byKind('nginx').length > 0;
  const sync = withSync
    ? startGatewaySync(stack, { port: o.gatewaySyncPort, env: o.env?.['gateway-sync'] })
    : undefined;
  // a failed sync start must not go unobserved while the services start
  sync?.catch(() => undefined);
  const withDashboard = o.dashboard ?? (withSync && !o.services);
  // the dashboard receives the services' traces: its port is known before they start
  const dashboardPort = withDashboard
    ? (o.dashboardPort ?? dashboardPortOf(o) ?? (await freePorts(1))[0])
    : undefined;
  const tracing = tracingEnv(dashboardPort);
  const instances: Component[] = [];
  for (const phase of SERVICE_START_ORDER) {
    const t = Date.now();
    const services = phase.filter((s) => wanted.includes(s));
    const started = await Promise.all(
      services.flatMap((service) =>
        Array.from({ length: count }, (_, i) =>
          startService(stack, {
            service,
            name: `${service}-${i + 1}`,
            httpPort: o.ports?.[service]?.http?.[i],
            tcpPort: HTTP_ONLY_SERVICES.has(service) ? 'none' : o.ports?.[service]?.tcp?.[i],
            env: {
              ...SERVICE_DEFAULT_ENV[service],
              ...(TRACED_SERVICES.has(service) ? tracing : {}),
              ...o.env?.[service],
            },
          }),
        ),
      ),
    );
    instances.push(...started);
    if (services.length)
      log(`${services.join(', ')}: ${started.length} instance(s) in ${Date.now() - t} ms`);
  }
  if (withDashboard) {
    const t = Date.now();
    instances.push(
      await startDashboard(stack, {
        port: dashboardPort,
        env: o.env?.dashboard,
      }),
    );
    log(`dashboard: 1 instance in ${Date.now() - t} ms`);
  }
  const syncComponent = await sync;
  if (syncComponent) {
    const expected: Record<string, number> = Object.fromEntries(wanted.map((s) => [s, count]));
    if (withDashboard) expected.dashboard = 1;
    await waitForGatewayUpstreams(stack, expected);
  }
  const startupMs = Date.now() - t0;
  log(`services: ${instances.length} instance(s) behind the gateway in ${startupMs} ms`);
  return { instances, sync: syncComponent, startupMs };
}

/** The services that trace requests (the failover agents and the dashboard make no spans). */
const TRACED_SERVICES = new Set(['auth', 'payment', 'recommendation', 'reservation', 'scrap']);

/**
 * Where the services send their spans: the stack's dashboard, which keeps the
 * recent traces (docs/tracing.md). `STAYLINE_TRACING=0` turns
 * tracing off; `STAYLINE_TRACE_SAMPLE` (0..1, default 1) is the share of the
 * traces a service starts itself that are kept (the gateway samples its own).
 */
export function tracingEnv(dashboardPort: number | undefined): Record<string, string> {
  if (dashboardPort === undefined || process.env.STAYLINE_TRACING === '0') return {};
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${dashboardPort}`,
    OTEL_TRACES_SAMPLER_ARG: process.env.STAYLINE_TRACE_SAMPLE ?? '1',
  };
}

/** The commands fix every port (`ports`): the dashboard's is then 4501 (STAYLINE_DASHBOARD_PORT); tests draw free ones. */
function dashboardPortOf(o: StartServicesOptions): number | undefined {
  if (!o.ports) return undefined;
  return Number(process.env.STAYLINE_DASHBOARD_PORT ?? DEFAULT_DASHBOARD_PORT);
}

/** Starts the gateway sync agent (infra/gateway-sync): nginx's upstreams follow the registry. */
export async function startGatewaySync(
  stack: Stack,
  o: {
    port?: number;
    env?: Record<string, string>;
    /** How long it may take to turn ready (it waits for the registry). Default 30 s. */
    readyTimeoutMs?: number;
  } = {},
): Promise<Component> {
  const nginx = stack.byKind('nginx')[0];
  if (!nginx) throw new Error('the gateway sync needs a stack with nginx');
  const port = o.port ?? (await freePorts(1))[0];
  const name = 'gateway-sync';
  const dir = path.join(stack.stateDir, name);
  const ts = path.join(REPO_ROOT, 'infra', 'gateway-sync', 'src', 'main.ts');
  const entry = fs.existsSync(ts) ? ts : ts.replace(/\.ts$/, '.js');
  const { sentinels, masterName } = stack.redis;
  const component: Component = {
    name,
    kind: 'agent',
    role: 'gateway-sync',
    host: '127.0.0.1',
    port,
    ports: { http: port },
    dir,
    spec: {
      command: process.execPath,
      args: entryArgs(entry),
      cwd: REPO_ROOT,
      env: {
        ...pinnedSettings(),
        // its Redis and etcd logins are the dev profile's public ones
        STAYLINE_PROFILE: 'dev',
        REDIS_SENTINELS: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
        REDIS_MASTER_NAME: masterName,
        ...stack.redisEnv('gateway-sync'),
        GATEWAY_PREFIX: nginx.dir,
        GATEWAY_HOST: nginx.host,
        GATEWAY_PORT: String(nginx.port),
        NGINX_BIN: which('nginx'),
        SYNC_PORT: String(port),
        LOG_LEVEL: process.env.STAYLINE_LOG_LEVEL ?? 'info',
        // nginx starts every trace and decides whether it is sampled
        STAYLINE_TRACE_SAMPLE: process.env.STAYLINE_TRACE_SAMPLE ?? '1',
        // the sync renders the whole config again: with nginx's own limits
        ...gatewayLimitsEnv(gatewayLimitsOf(nginx)),
        ...etcdEnv(stack, 'gateway-sync'),
        ...o.env,
      },
      logFile: path.join(dir, 'gateway-sync.log'),
    },
  };
  await stack.spawn(component, { timeoutMs: 60_000 });
  await waitFor(
    'the gateway sync to be ready',
    async () => {
      if (!isAlive(component.pid))
        throw new GiveUp(`gateway-sync exited:\n${tail(component.spec.logFile)}`);
      return (await httpJson(`http://127.0.0.1:${port}/health/ready`)).status === 200;
    },
    { timeoutMs: o.readyTimeoutMs ?? 30_000, intervalMs: 25 },
  );
  return component;
}

/** What the sync has applied to nginx: `host:port` per service, reload count and timings. */
export interface GatewayUpstreams {
  upstreams: Record<string, string[]>;
  reloads: number;
  lastReload?: {
    at: string;
    totalMs: number;
    validateMs: number;
    reloadMs?: number;
    reason: string;
  };
  lastError?: string;
}

/** Asks the stack's gateway sync what nginx runs now. */
export async function gatewayUpstreams(stack: Stack): Promise<GatewayUpstreams> {
  const sync = stack.component('gateway-sync');
  const res = await httpJson(`http://${sync.host}:${sync.port}/upstreams`);
  if (res.status !== 200) throw new Error(`gateway-sync /upstreams answered ${res.status}`);
  return res.body as GatewayUpstreams;
}

/** Waits until nginx runs exactly `counts[service]` upstreams for each service named. */
export async function waitForGatewayUpstreams(
  stack: Stack,
  counts: Record<string, number>,
  timeoutMs = 30_000,
): Promise<GatewayUpstreams> {
  let last: GatewayUpstreams | undefined;
  await waitFor(
    `the gateway to route to ${JSON.stringify(counts)}`,
    async () => {
      last = await gatewayUpstreams(stack);
      const now = last.upstreams;
      return Object.entries(counts).every(([s, n]) => (now[s] ?? []).length === n);
    },
    { timeoutMs, intervalMs: 20 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; nginx has ${JSON.stringify(last?.upstreams)}`);
  });
  return last as GatewayUpstreams;
}

export interface WholeStackOptions extends StackOptions {
  /** Instances of every service (default 2). */
  instances?: number;
  /** The failover agents' HTTP ports; omitted: drawn free (the commands pass DEFAULT_AGENT_PORTS). */
  agentPorts?: number[];
  services?: Pick<StartServicesOptions, 'ports' | 'gatewaySyncPort' | 'env'>;
  /** Prometheus last, scraping everything and evaluating the rules (`npm start` does). */
  prometheus?: PrometheusOptions | false;
}

/**
 * The whole stack as `npm run stack:up` runs it: the datastores with a 3-member
 * etcd, the two failover agents (first: they publish the topology the services
 * follow), every service behind the gateway, and Prometheus when asked. Stops
 * what started on any failure.
 *
 * @example
 *   const stack = await startWholeStack({ stateDir }); // free ports: a test's stack
 *   // demos and scripts attach to it with Stack.attach(stateDir)
 */
export async function startWholeStack(o: WholeStackOptions = {}): Promise<Stack> {
  const stack = await Stack.start({ etcd: true, ...o });
  try {
    const agentPorts = o.agentPorts;
    await startFailoverAgents(stack, {
      count: agentPorts?.length ?? DEFAULT_AGENT_PORTS.length,
      ports: agentPorts,
    });
    // Prometheus starts last (it scrapes through the gateway sync), its port drawn now so
    // the dashboard started before it is given its URL for the charts
    const prometheusPort = o.prometheus
      ? (o.prometheus.port ?? (await freePorts(1))[0])
      : undefined;
    const env = { ...o.services?.env };
    if (prometheusPort !== undefined)
      env.dashboard = { PROMETHEUS_URL: prometheusUrl(prometheusPort), ...env.dashboard };
    await startServices(stack, {
      instances: o.instances ?? 2,
      log: o.log,
      ...o.services,
      env,
    });
    if (o.prometheus) {
      const t = Date.now();
      const p = await startPrometheus(stack, { ...o.prometheus, port: prometheusPort });
      o.log?.(`prometheus: ready on ${p.host}:${p.port} in ${Date.now() - t} ms`);
    }
  } catch (err) {
    o.log?.(`start failed: ${(err as Error).message}; stopping what started`);
    await stack.stop();
    throw err;
  }
  return stack;
}
