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

/** One scrape target: its `instance` label and the address it is scraped at. */
export interface PrometheusTarget {
  instance: string;
  /** `host:port` of its HTTP port (`/metrics`). */
  address: string;
}

/**
 * A job whose targets do not register (the failover agents, the etcd members): listed
 * (`targets`, each with its `instance` label), or the addresses a DNS name resolves to
 * (`dns`: a headless Service on Kubernetes, where the pods' names are not stable).
 */
export type PrometheusStaticJob =
  | { job: string; targets: PrometheusTarget[] }
  | { job: string; dns: { name: string; port: number } };

/** Where a stayline Prometheus finds its targets and its rules: what differs per platform. */
export interface PrometheusLayout {
  /** The first line of the file: who wrote it. */
  writtenBy: string;
  /** How often it scrapes, evaluates the rules and asks the discovery. */
  intervalS: number;
  /** stayline.rules.yml, as Prometheus opens it (relative: to the configuration's directory). */
  rulesFile: string;
  /** The gateway sync's `/sd/prometheus` (every registered instance), when there is one. */
  serviceDiscovery?: string;
  /** The failover agents' and the etcd members' jobs. */
  jobs: PrometheusStaticJob[];
}

/**
 * A stayline Prometheus configuration, the one generator behind every platform's (the
 * native stack's, compose's `prometheus-config` job, the Kubernetes ConfigMap): the
 * services' instances from the gateway sync's HTTP service discovery (`/sd/prometheus`,
 * following the registry: a new instance is scraped without a reload, a stopped one
 * dropped), the jobs that do not register as static targets, and stayline's rules.
 */
export function renderPrometheusConfig(l: PrometheusLayout): string {
  const job = (j: PrometheusStaticJob): string[] => {
    if ('dns' in j)
      return [
        `  - job_name: ${j.job}`,
        '    dns_sd_configs:',
        `      - names: ['${j.dns.name}']`,
        '        type: A',
        `        port: ${j.dns.port}`,
        `        refresh_interval: ${l.intervalS}s`,
      ];
    return j.targets.length
      ? [
          `  - job_name: ${j.job}`,
          '    static_configs:',
          ...j.targets.flatMap((t) => [
            `      - targets: ['${t.address}']`,
            `        labels: { instance: '${t.instance}' }`,
          ]),
        ]
      : [];
  };
  const lines = [
    `# ${l.writtenBy}`,
    'global:',
    `  scrape_interval: ${l.intervalS}s`,
    `  scrape_timeout: ${l.intervalS}s`,
    `  evaluation_interval: ${l.intervalS}s`,
    'rule_files:',
    `  - '${l.rulesFile}'`,
    'scrape_configs:',
    ...(l.serviceDiscovery
      ? [
          // the job label comes from each target group: the instance's service
          '  - job_name: services',
          '    http_sd_configs:',
          `      - url: '${l.serviceDiscovery}'`,
          `        refresh_interval: ${l.intervalS}s`,
        ]
      : []),
    ...l.jobs.flatMap(job),
  ];
  return `${lines.join('\n')}\n`;
}

/** The native stack's Prometheus configuration: its components where they listen now. */
export function prometheusConfig(stack: Stack, intervalS: number): string {
  const sync = stack.byKind('agent').find((c) => c.name === 'gateway-sync');
  const targets = (cs: Component[]) =>
    cs.map((c) => ({ instance: c.name, address: `${c.host}:${c.port}` }));
  return renderPrometheusConfig({
    writtenBy: 'written by the stack kit (tools/stack-kit/src/lib/prometheus.ts) at each start',
    intervalS,
    rulesFile: PROMETHEUS_RULES,
    serviceDiscovery: sync ? `http://${sync.host}:${sync.port}/sd/prometheus` : undefined,
    jobs: [
      {
        job: 'failover-agent',
        targets: targets(stack.byKind('agent').filter((c) => c.meta?.service === 'failover-agent')),
      },
      { job: 'etcd', targets: targets(stack.byKind('etcd')) },
    ],
  });
}

/** The configuration's file name, in the compose volume and in the ConfigMap. */
export const PROMETHEUS_CONFIG_FILE = 'prometheus.yml';
/** The rules' file name, wherever a platform puts them. */
export const PROMETHEUS_RULES_FILE = path.basename(PROMETHEUS_RULES);
/** Scrape, evaluation and discovery interval of the containerised stacks: the native stack's. */
export const PROMETHEUS_INTERVAL_S = 5;

/** Where the compose Prometheus image holds the rules (infra/docker/prometheus/Dockerfile). */
export const COMPOSE_RULES_PATH = `/etc/stayline/rules/${PROMETHEUS_RULES_FILE}`;

/**
 * docker-compose.yml's Prometheus: the gateway container's sync on the compose network
 * (`SYNC_HOST=0.0.0.0`, port 8081), which lists every registered instance at the name or
 * address it registered (`reservation-1:3000`, a `--scale` copy's IPv4), the two agents
 * and the three etcd members by their container names.
 */
export function composePrometheusConfig(): string {
  return renderPrometheusConfig({
    writtenBy:
      'written by the prometheus-config job (infra/prometheus/src/prometheus-config.ts) at each start',
    intervalS: PROMETHEUS_INTERVAL_S,
    rulesFile: COMPOSE_RULES_PATH,
    serviceDiscovery: 'http://gateway:8081/sd/prometheus',
    jobs: [
      {
        job: 'failover-agent',
        targets: [1, 2].map((i) => ({
          instance: `failover-agent-${i}`,
          address: `failover-agent-${i}:3000`,
        })),
      },
      {
        job: 'etcd',
        targets: [1, 2, 3].map((i) => ({ instance: `etcd-${i}`, address: `etcd-${i}:2379` })),
      },
    ],
  });
}

/**
 * deploy/kubernetes' Prometheus: the gateway pods' syncs behind the `gateway-sync` Service
 * (every sync follows the same registry; the pods register their own IPs), the agents'
 * pods through the headless `failover-agent-pods` Service (a Deployment's pod names are not
 * stable: each is its address), the etcd StatefulSet's members by their stable names; the
 * rules next to the configuration, in the same ConfigMap.
 */
export function kubernetesPrometheusConfig(): string {
  return renderPrometheusConfig({
    writtenBy:
      'generated by infra/prometheus/src/prometheus-config.ts (`kubernetes --out deploy/kubernetes/base/prometheus`): do not edit',
    intervalS: PROMETHEUS_INTERVAL_S,
    rulesFile: PROMETHEUS_RULES_FILE,
    serviceDiscovery: 'http://gateway-sync:8081/sd/prometheus',
    jobs: [
      { job: 'failover-agent', dns: { name: 'failover-agent-pods', port: 3000 } },
      {
        job: 'etcd',
        targets: [0, 1, 2].map((i) => ({ instance: `etcd-${i}`, address: `etcd-${i}.etcd:2379` })),
      },
    ],
  });
}

/** The files each platform's configuration is made of, by name. */
export function prometheusFiles(platform: 'compose' | 'kubernetes'): Record<string, string> {
  if (platform === 'compose') return { [PROMETHEUS_CONFIG_FILE]: composePrometheusConfig() };
  return {
    [PROMETHEUS_CONFIG_FILE]: kubernetesPrometheusConfig(),
    [PROMETHEUS_RULES_FILE]: fs.readFileSync(PROMETHEUS_RULES, 'utf8'),
  };
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
