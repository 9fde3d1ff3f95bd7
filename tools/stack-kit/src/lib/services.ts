import path from 'node:path';
import { freePorts } from './ports';
import type { Stack } from './stack';
import { Component } from './state';
import { entryArgs, REPO_ROOT } from './repo';

export interface ServiceInstanceOptions {
  /** `payment`, `reservation`... (the app under apps/<service>). */
  service: string;
  /** Instance name, e.g. `payment-1`; default `<service>-<n>`. */
  name?: string;
  httpPort?: number;
  /** `none`: an HTTP-only app (no `TCP_PORT`, no `tcp` in its ports). */
  tcpPort?: number | 'none';
  /** Extra environment (over the stack-derived one). */
  env?: Record<string, string>;
  /** Entry point; default apps/<service>/src/main.ts run through SWC. */
  entry?: string;
  /** What the status contract calls it: `service` (default) or `agent`. */
  kind?: 'service' | 'agent';
}

/**
 * The service settings an operator may choose in the shell that starts the
 * stack (README "Service configuration"): `DISCOVERY_BACKEND=etcd npm run
 * stack:up`. They are written into each instance's recorded spec, so a restart
 * from another shell (a demo, a test, `stack.restart`) brings the instance back
 * with the settings the stack runs on, not with that shell's.
 */
const OPERATOR_SETTINGS =
  /^(DISCOVERY_BACKEND|COORDINATION_BACKEND|DRAIN_DELAY_MS|LB_STRATEGY|PAYMENT_TIMEOUT_MS|RECOMMENDATION_TIMEOUT_MS|BREAKER_THRESHOLD|BREAKER_RESET_MS|RECONCILE_AFTER_MS|SCRAP_[A-Z_]+)$/;

/** The operator settings set in `env` (default: this process's environment). */
export function pinnedSettings(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const pinned: Record<string, string> = {};
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && OPERATOR_SETTINGS.test(name)) pinned[name] = value;
  return pinned;
}

/**
 * The environment a service instance gets from the stack it runs on: where the
 * databases and Sentinels are, the dev-profile credentials.
 */
export function serviceEnv(stack: Stack, service: string): Record<string, string> {
  const env: Record<string, string> = {
    STAYLINE_PROFILE: 'dev',
    DB_USER: stack.credentials.app.user,
    DB_PASSWORD: stack.credentials.app.password,
    DB_NAME: service,
    LOG_LEVEL: process.env.STAYLINE_LOG_LEVEL ?? 'info',
  };
  if (stack.byKind('mariadb').length) {
    const { primary, replicas } = stack.mariadb;
    env.DB_PRIMARY = `${primary.name}@${primary.host}:${primary.port}`;
    env.DB_REPLICAS = replicas.map((r) => `${r.name}@${r.host}:${r.port}`).join(',');
  }
  if (stack.byKind('sentinel').length) {
    env.REDIS_SENTINELS = stack.redis.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
    env.REDIS_MASTER_NAME = stack.redis.masterName;
  }
  return { ...env, ...etcdEnv(stack) };
}

/** `ETCD_ENDPOINTS` when the stack runs etcd, so `DISCOVERY_BACKEND`/`COORDINATION_BACKEND=etcd` can be chosen. */
export function etcdEnv(stack: Stack): Record<string, string> {
  return stack.byKind('etcd').length ? { ETCD_ENDPOINTS: stack.etcd.endpoints.join(',') } : {};
}

/** Starts one instance of a service as its own process and waits until its HTTP port answers. */
export async function startService(stack: Stack, o: ServiceInstanceOptions): Promise<Component> {
  const name = o.name ?? stack.nextInstanceName(o.service);
  const [httpFree, tcpFree] = await freePorts(2);
  const httpPort = o.httpPort ?? httpFree;
  const tcpPort = o.tcpPort === 'none' ? undefined : (o.tcpPort ?? tcpFree);
  const dir = path.join(stack.stateDir, name);
  const entry = o.entry ?? path.join(REPO_ROOT, 'apps', o.service, 'src', 'main.ts');
  const component: Component = {
    name,
    kind: o.kind ?? 'service',
    role: 'instance',
    host: '127.0.0.1',
    port: httpPort,
    ports: tcpPort === undefined ? { http: httpPort } : { http: httpPort, tcp: tcpPort },
    dir,
    meta: { service: o.service },
    spec: {
      command: process.execPath,
      args: entryArgs(entry),
      cwd: REPO_ROOT,
      env: {
        ...pinnedSettings(),
        ...serviceEnv(stack, o.service),
        INSTANCE_ID: name,
        HOST: '127.0.0.1',
        HTTP_PORT: String(httpPort),
        ...(tcpPort === undefined ? {} : { TCP_PORT: String(tcpPort) }),
        ...o.env,
      },
      logFile: path.join(dir, 'service.log'),
    },
  };
  return stack.spawn(component, { timeoutMs: 60_000 });
}
