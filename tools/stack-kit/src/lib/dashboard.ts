import path from 'node:path';
import { serviceEnv, startService } from './services';
import type { Stack } from './stack';
import { Component } from './state';
import { REPO_ROOT } from './repo';

/**
 * What the dashboard (apps/dashboard) reads on a launcher stack: the
 * Sentinels and the etcd members (from {@link serviceEnv}), the MariaDB nodes
 * and its own database user (replication state only), the failover agents running now
 * (they do not register in discovery: start them before the dashboard), and the
 * stack's Prometheus for the charts when it runs one (none otherwise: never the
 * dashboard's default 127.0.0.1:9490, which may be another stack's).
 * {@link startWholeStack} starts Prometheus after the dashboard and passes its URL.
 */
export function dashboardEnv(stack: Stack): Record<string, string> {
  const list = (cs: Component[]) => cs.map((c) => `${c.name}@${c.host}:${c.port}`).join(',');
  const agents = stack.byKind('agent').filter((c) => c.meta?.service === 'failover-agent');
  const prometheus = stack.byKind('agent').find((c) => c.meta?.service === 'prometheus');
  return {
    ...serviceEnv(stack, 'dashboard'),
    DB_USER: stack.credentials.monitor.user,
    DB_PASSWORD: stack.credentials.monitor.password,
    MARIADB_NODES: list(stack.byKind('mariadb')),
    FAILOVER_AGENTS: list(agents),
    PROMETHEUS_URL: prometheus ? prometheusUrl(prometheus.port) : '',
    // a dev stack teaches with addresses; the dashboard's own default is the public view
    DASHBOARD_VIEW: 'full',
  };
}

/** The URL of a Prometheus of the stack's (on loopback, like every component). */
export const prometheusUrl = (port: number) => `http://127.0.0.1:${port}`;

/** Starts `dashboard-1`: HTTP only, registered in discovery as `dashboard`, routed by nginx at `/dashboard`. */
export function startDashboard(
  stack: Stack,
  o: { port?: number; env?: Record<string, string> } = {},
): Promise<Component> {
  return startService(stack, {
    service: 'dashboard',
    name: 'dashboard-1',
    httpPort: o.port,
    tcpPort: 'none',
    entry: path.join(REPO_ROOT, 'apps', 'dashboard', 'src', 'main.ts'),
    env: { ...dashboardEnv(stack), ...o.env },
  });
}
