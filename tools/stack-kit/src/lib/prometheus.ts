import fs from 'node:fs';
import path from 'node:path';
import { which } from './binaries';
import { httpJson } from './http-json';
import { freePorts } from './ports';
import { isAlive, tail } from './process';
import { REPO_ROOT } from './repo';
import type { Stack } from './stack';
import { Component } from './state';
import { GiveUp, waitFor } from './wait';

/** The commands' Prometheus port (`npm start`; STAYLINE_PROMETHEUS_PORT): beside a system Prometheus on 9090. */
export const DEFAULT_PROMETHEUS_PORT = 9490;

/** stayline's recording and alert rules (docs/observability.md). */
export const PROMETHEUS_RULES = path.join(
  REPO_ROOT,
  'infra',
  'prometheus',
  'rules',
  'stayline.rules.yml',
);

export interface PrometheusOptions {
  /** Its HTTP port (UI and API); drawn free when omitted. */
  port?: number;
  /** How often it scrapes and evaluates the rules. Default 5 s (tests: 1 s). */
  intervalS?: number;
}

/**
 * The configuration of the stack's Prometheus: the services' instances from the
 * gateway sync's HTTP service discovery (`/sd/prometheus`, following the registry:
 * a new instance is scraped without a reload, a stopped one dropped), the failover
 * agents and the etcd members (which do not register) as static targets, and
 * stayline's rules.
 */
export function prometheusConfig(stack: Stack, intervalS: number): string {
  const sync = stack.byKind('agent').find((c) => c.name === 'gateway-sync');
  const agents = stack.byKind('agent').filter((c) => c.meta?.service === 'failover-agent');
  const etcd = stack.byKind('etcd');
  const statics = (job: string, cs: Component[], port: (c: Component) => number) =>
    cs.length
      ? [
          `  - job_name: ${job}`,
          '    static_configs:',
          ...cs.flatMap((c) => [
            `      - targets: ['${c.host}:${port(c)}']`,
            `        labels: { instance: '${c.name}' }`,
          ]),
        ]
      : [];
  const lines = [
    '# written by the stack kit (tools/stack-kit/src/lib/prometheus.ts) at each start',
    'global:',
    `  scrape_interval: ${intervalS}s`,
    `  scrape_timeout: ${intervalS}s`,
    `  evaluation_interval: ${intervalS}s`,
    'rule_files:',
    `  - '${PROMETHEUS_RULES}'`,
    'scrape_configs:',
    ...(sync
      ? [
          // the job label comes from each target group: the instance's service
          '  - job_name: services',
          '    http_sd_configs:',
          `      - url: 'http://${sync.host}:${sync.port}/sd/prometheus'`,
          `        refresh_interval: ${intervalS}s`,
        ]
      : []),
    ...statics('failover-agent', agents, (c) => c.port),
    ...statics('etcd', etcd, (c) => c.port),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Starts `prometheus` (Debian's package) on the stack: scraping every instance and
 * evaluating stayline's alert rules. Needs the gateway sync for the services' targets.
 */
export async function startPrometheus(stack: Stack, o: PrometheusOptions = {}): Promise<Component> {
  const port = o.port ?? (await freePorts(1))[0];
  const name = 'prometheus';
  const dir = path.join(stack.stateDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(config, prometheusConfig(stack, o.intervalS ?? 5));
  const component: Component = {
    name,
    kind: 'agent',
    role: 'metrics',
    host: '127.0.0.1',
    port,
    ports: { http: port },
    dir,
    spec: {
      command: which('prometheus'),
      args: [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        '--storage.tsdb.retention.time=1d',
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      cwd: dir,
      env: {},
      logFile: path.join(dir, 'prometheus.log'),
    },
    meta: { service: 'prometheus' },
  };
  await stack.spawn(component, { timeoutMs: 60_000 });
  await waitFor(
    'Prometheus to be ready',
    async () => {
      if (!isAlive(component.pid))
        throw new GiveUp(`prometheus exited:\n${tail(component.spec.logFile)}`);
      return (
        (await httpJson(`http://127.0.0.1:${port}/-/ready`).catch(() => ({ status: 0 }))).status ===
        200
      );
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  return component;
}

/** One alert as Prometheus' API (`/api/v1/alerts`) gives it. */
export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

/** The alerts pending or firing in the stack's Prometheus now. */
export async function prometheusAlerts(stack: Stack): Promise<PrometheusAlert[]> {
  const p = stack.component('prometheus');
  const res = await httpJson(`http://${p.host}:${p.port}/api/v1/alerts`);
  if (res.status !== 200) throw new Error(`prometheus /api/v1/alerts answered ${res.status}`);
  return (res.body as { data: { alerts: PrometheusAlert[] } }).data.alerts;
}

/** The stack's Prometheus' scrape targets now: labels and health per target. */
export async function prometheusTargets(
  stack: Stack,
): Promise<Array<{ labels: Record<string, string>; health: string; scrapeUrl: string }>> {
  const p = stack.component('prometheus');
  const res = await httpJson(`http://${p.host}:${p.port}/api/v1/targets?state=active`);
  if (res.status !== 200) throw new Error(`prometheus /api/v1/targets answered ${res.status}`);
  return (
    res.body as {
      data: {
        activeTargets: Array<{ labels: Record<string, string>; health: string; scrapeUrl: string }>;
      };
    }
  ).data.activeTargets;
}
