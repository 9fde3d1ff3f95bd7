/**
 * What observability costs a booking: the booking throughput through nginx with
 * tracing off and no Prometheus, against tracing on (every booking traced, its
 * spans exported to the dashboard) with Prometheus scraping every instance every
 * 5 s (the stacks' own interval), and against the same with a tenth and with a
 * hundredth of the bookings traced, in one run on one stack.
 * The stack is the whole stack as `npm run stack:up` runs it (MariaDB x3
 * semi-sync, Redis x2 + 3 Sentinels, etcd x3, the 2 failover agents, nginx with
 * LOAD_GATEWAY_LIMITS); what a configuration changes is read when a process
 * starts, so each segment starts its own set of processes on those datastores
 * and stops it again: 2 instances of every service, the gateway sync (which
 * renders nginx's trace sampling, STAYLINE_TRACE_SAMPLE), the dashboard (which
 * receives the spans) and, when on, Prometheus (5 s scrapes and rule
 * evaluations). Tracing off is the services' SDK disabled with nginx still
 * marking every request sampled (`STAYLINE_TRACING=0` on a stack): nothing is
 * exported, which the dashboard's span counter must confirm.
 * Each segment: fresh tokens for USERS users, WARMUP bookings (JIT, pools),
 * then BOOKINGS bookings CONCURRENCY at a time (closed model, the bookings
 * scenario's load: each a new one-night stay with its own Idempotency-Key);
 * afterwards its stays are cancelled in SQL and the outbox drained, so every
 * segment books the same nights into the same tables. The configurations take
 * turns in a rotated order (off, all, 10 %, 1 %; all, 10 %, 1 %, off; ...) for ROUNDS
 * rounds, so that a drifting machine costs each alike.
 * - observability.bookings.rps.<off|traced_all|traced_10pct|traced_1pct>: bookings/s, the
 *   median of the rounds;
 * - observability.bookings.overhead.<traced_all|traced_10pct|traced_1pct>: 1 - on / off,
 *   the median of the rounds' ratios (each of segments next to each other);
 * - observability.bookings.p50/.p99.<config>: latency of a booking (send to
 *   answer, all rounds' bookings), ms;
 * - observability.bookings.cpu_ms.<config>: CPU ms per booking of every process
 *   of the stack (/proc, the load generator not counted), the median of the rounds;
 * - observability.bookings.spans.<config>: spans the dashboard stored per booking.
 * With BENCH_PROFILE_DIR set, reservation, payment and the dashboard run with the
 * inspector on, and in the last round each segment profiles a second run of
 * bookings: <dir>/<config>/<instance>.cpuprofile, summarised on stderr.
 *   node scripts/run.cjs bench/src/scenarios/observability.ts    (prints the figures as JSON)
 *   npm run bench -- --only=observability
 * BENCH_OBS_ROUNDS (default 3), BENCH_OBS_BOOKINGS (default 1500) and
 * BENCH_OBS_CONCURRENCY (default 16) change the run; BENCH_OBS_CONFIGS (default
 * `traced_all,traced_10pct,traced_1pct`; a hundredth is what docker-compose.production.yml
 * samples) chooses what is measured against `off`, also
 * `metrics_only` (tracing off, Prometheus) and `traced_all_no_metrics`, to tell
 * the costs of tracing and of the scrapes apart.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Component,
  freePorts,
  isAlive,
  LOAD_GATEWAY_LIMITS,
  metricSum,
  prometheusTargets,
  prometheusUrl,
  Stack,
  startFailoverAgents,
  startPrometheus,
  startServices,
} from '@stayline/stack-kit';
import { bookMany, freeNights, userHeaders } from '../booking-load';
import { type CpuProfile, formatSummary, summarizeProfiles } from '../cpuprofile';
import { round, summarize, type Figure, runWhenMain } from '../figure';
import { profiled } from '../inspector';
import { cpuByComponent, cpuDelta } from '../process-cpu';

const ROUNDS = Number(process.env.BENCH_OBS_ROUNDS ?? 3);
const BOOKINGS = Number(process.env.BENCH_OBS_BOOKINGS ?? 1_500);
const CONCURRENCY = Number(process.env.BENCH_OBS_CONCURRENCY ?? 16);
export const WARMUP = 300;
export const USERS = 32;
// the stack's own scrape interval (tools/stack-kit prometheus.ts): what `npm start` runs
export const SCRAPE_S = 5;
/** The services that trace (stack-kit's tracingEnv): the failover agents and the dashboard make no spans. */
export const TRACED = ['auth', 'payment', 'recommendation', 'reservation', 'scrap'];
/** The batch span processor sends every second: by this long after a run its spans have arrived. */
export const EXPORT_WAIT_MS = 2_500;
const PROFILED = ['reservation', 'payment', 'dashboard'];
const GOAL = '< 0.10';

export interface Config {
  key:
    | 'off'
    | 'traced_all'
    | 'traced_10pct'
    | 'traced_1pct'
    | 'metrics_only'
    | 'traced_all_no_metrics';
  what: string;
  /** The share of bookings traced; undefined: the services' SDK is off. */
  sample?: number;
  prometheus: boolean;
}

export const CONFIGS: readonly Config[] = [
  { key: 'off', what: 'tracing off, no Prometheus', prometheus: false },
  {
    key: 'traced_all',
    what: `every booking traced, Prometheus scraping every ${SCRAPE_S} s`,
    sample: 1,
    prometheus: true,
  },
  {
    key: 'traced_10pct',
    what: `10 % of the bookings traced, Prometheus scraping every ${SCRAPE_S} s`,
    sample: 0.1,
    prometheus: true,
  },
  {
    key: 'traced_1pct',
    what: `1 % of the bookings traced (the production compose file's default), Prometheus scraping every ${SCRAPE_S} s`,
    sample: 0.01,
    prometheus: true,
  },
  // apart, to tell the two costs apart (BENCH_OBS_CONFIGS)
  {
    key: 'metrics_only',
    what: `tracing off, Prometheus scraping every ${SCRAPE_S} s`,
    prometheus: true,
  },
  {
    key: 'traced_all_no_metrics',
    what: 'every booking traced, no Prometheus',
    sample: 1,
    prometheus: false,
  },
];
/** The configurations measured: `off` and, by default, every booking, a tenth and a hundredth traced. */
const CHOSEN: readonly Config[] = (() => {
  const keys = (process.env.BENCH_OBS_CONFIGS ?? 'traced_all,traced_10pct,traced_1pct').split(',');
  const unknown = keys.filter((k) => !CONFIGS.some((c) => c.key === k));
  if (unknown.length) throw new Error(`BENCH_OBS_CONFIGS: no configuration ${unknown.join(', ')}`);
  return CONFIGS.filter((c) => c.key === 'off' || keys.includes(c.key));
})();

interface Segment {
  config: Config['key'];
  round: number;
  rps: number;
  latencies: number[];
  /** CPU ms per booking, every process of the stack. */
  cpuMs: number;
  /** The same by group (a service's instances together, each datastore kind, Prometheus). */
  cpuByGroup: Map<string, number>;
  spansPerBooking: number;
  failed: number;
  firstFailures: string[];
  /** The 1-minute load average at the end of the measured run. */
  load: number;
}

const log = (line: string) => console.error(`observability: ${line}`);
const loadNow = () => os.loadavg()[0].toFixed(1);
const median = (xs: number[]) => summarize(xs).p50;

/** The share of requests nginx marks sampled, as its configuration now says. */
function nginxTraceShare(stack: Stack): number {
  const nginx = stack.byKind('nginx')[0];
  const conf = fs.readFileSync(path.join(nginx.dir, 'nginx.conf'), 'utf8');
  const split = /split_clients "\$request_id" \$stayline_trace_flags \{\s*([\d.]+)% "01"/.exec(
    conf,
  );
  if (split) return Number(split[1]) / 100;
  const all = /map \$request_id \$stayline_trace_flags \{\s*default "(0[01])"/.exec(conf);
  if (all) return all[1] === '01' ? 1 : 0;
  throw new Error(`no trace sampling in ${nginx.dir}/nginx.conf`);
}

/** Spans the dashboard has stored since it started. */
export const spansStored = (dashboard: Component) =>
  metricSum(dashboard, 'stayline_dashboard_spans_received_total', { outcome: 'stored' });

function groupOf(c: Component): string {
  return String(c.meta?.service ?? c.kind);
}

/** A configuration's processes on a stack, started: what {@link startConfig} returns. */
export interface ConfigSet {
  config: Config;
  /** nginx's URL: where the bookings go. */
  gw: string;
  dashboard: Component;
  started: Component[];
}

/**
 * Starts a configuration's processes on a stack's datastores: 2 instances of
 * every service (the SDK on or off, sampling as nginx marks), the gateway sync,
 * the dashboard (receiving the spans) and, when on, Prometheus; checks that
 * nginx samples what the configuration says. A start that fails stops what it started.
 */
export async function startConfig(
  stack: Stack,
  config: Config,
  profiled = false,
): Promise<ConfigSet> {
  const traced = config.sample !== undefined;
  const [dashboardPort, prometheusPort] = await freePorts(2);
  const inspect: Record<string, string> = profiled
    ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --inspect=127.0.0.1:0`.trim() }
    : {};
  const serviceEnv: Record<string, string> = traced
    ? {
        OTEL_SDK_DISABLED: 'false',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${dashboardPort}`,
        OTEL_TRACES_SAMPLER_ARG: String(config.sample),
      }
    : { OTEL_SDK_DISABLED: 'true' };
  const env: Record<string, Record<string, string>> = {
    ...Object.fromEntries(
      TRACED.map((s) => [s, { ...serviceEnv, ...(PROFILED.includes(s) ? inspect : {}) }]),
    ),
    // off: nginx marks every request sampled, as STAYLINE_TRACING=0 leaves it
    'gateway-sync': { STAYLINE_TRACE_SAMPLE: String(config.sample ?? 1) },
    dashboard: {
      PROMETHEUS_URL: config.prometheus ? prometheusUrl(prometheusPort) : '',
      ...inspect,
    },
  };
  const set: ConfigSet = {
    config,
    gw: stack.nginx.url,
    dashboard: undefined as unknown as Component,
    started: [],
  };
  try {
    const services = await startServices(stack, { instances: 2, dashboardPort, env });
    set.started.push(...services.instances);
    if (services.sync) set.started.push(services.sync);
    if (config.prometheus)
      set.started.push(await startPrometheus(stack, { port: prometheusPort, intervalS: SCRAPE_S }));
    const share = nginxTraceShare(stack);
    if (share !== (config.sample ?? 1))
      throw new Error(`${config.key}: nginx samples ${share}, not ${config.sample ?? 1}`);
    set.dashboard = stack.component('dashboard-1');
    return set;
  } catch (err) {
    await stopConfig(stack, set);
    throw err;
  }
}

/** With Prometheus on: waits until it scrapes every instance of every service (a first scrape comes within an interval). */
export async function awaitScrapes(stack: Stack, config: Config): Promise<void> {
  if (!config.prometheus) return;
  let targets: Awaited<ReturnType<typeof prometheusTargets>> = [];
  const up = () => targets.filter((t) => t.health === 'up' && TRACED.includes(t.labels.job)).length;
  const until = Date.now() + 3 * SCRAPE_S * 1000 + 5_000;
  while (Date.now() < until) {
    targets = await prometheusTargets(stack);
    if (up() >= 2 * TRACED.length) return;
    await sleep(500);
  }
  throw new Error(
    `${config.key}: Prometheus scrapes ${up()} targets up: ${JSON.stringify(targets.map((t) => [t.labels.instance, t.health]))}`,
  );
}

/**
 * Really off: not one span since the dashboard started; really on: spans of
 * the run (`spans`, counted by the caller) and a trace to look at.
 */
export async function checkTracing(set: ConfigSet, spans: number): Promise<void> {
  const total = await spansStored(set.dashboard);
  if (set.config.sample === undefined) {
    if (total !== 0) throw new Error(`tracing off, yet the dashboard stored ${total} spans`);
    return;
  }
  if (spans <= 0) throw new Error(`${set.config.key}: the dashboard stored no span of the run`);
  const res = await fetch(
    `http://${set.dashboard.host}:${set.dashboard.port}/dashboard/trace-data?limit=1`,
  );
  const body = (await res.json()) as { traces?: unknown[] };
  if (res.status !== 200 || !body.traces?.length)
    throw new Error(`${set.config.key}: /dashboard/trace-data answered ${res.status}, no trace`);
}

/** Cancels the bench users' stays (the same nights free for the next set) and stops the set's processes. */
export async function stopConfig(stack: Stack, set: ConfigSet): Promise<void> {
  await freeNights(stack, 'obs-', log).catch((err: Error) =>
    log(`freeing the nights: ${err.message}`),
  );
  // Prometheus first (no scrape of a stopping instance), then the services and the dashboard, the sync last
  const order = (c: Component) =>
    c.meta?.service === 'prometheus' ? 0 : c.name === 'gateway-sync' ? 2 : 1;
  for (const step of [0, 1, 2])
    await Promise.all(
      set.started.filter((c) => order(c) === step).map((c) => stack.stopComponent(c.name)),
    );
}

/** One configuration's segment: its processes started, warmed, measured and stopped. */
async function segment(
  stack: Stack,
  config: Config,
  roundNo: number,
  runId: string,
  profileDir?: string,
): Promise<Segment> {
  const set = await startConfig(stack, config, profileDir !== undefined);
  try {
    const { gw, dashboard } = set;
    const users = await userHeaders(stack, 'obs-', USERS);
    const keyPrefix = `obs-${runId}-${config.key}-${roundNo}`;
    const warm = await bookMany(gw, users, {
      from: 0,
      count: WARMUP,
      concurrency: CONCURRENCY,
      keyPrefix,
    });
    if (warm.failed)
      log(`${config.key} warm-up: ${warm.failed} failed, e.g. ${warm.firstFailures[0]}`);
    await sleep(EXPORT_WAIT_MS);
    await awaitScrapes(stack, config);

    const spansBefore = await spansStored(dashboard);
    const alive = stack.components.filter((c) => isAlive(c.pid));
    const cpuBefore = cpuByComponent(alive);
    const latencies: number[] = [];
    const booked = await bookMany(gw, users, {
      from: WARMUP,
      count: BOOKINGS,
      concurrency: CONCURRENCY,
      keyPrefix,
      latencies,
    });
    const cpu = cpuDelta(cpuBefore, cpuByComponent(alive));
    await sleep(EXPORT_WAIT_MS);
    const spans = (await spansStored(dashboard)) - spansBefore;
    await checkTracing(set, spans);
    if (profileDir && roundNo === ROUNDS - 1) {
      const instances = stack.components.filter(
        (c) => isAlive(c.pid) && PROFILED.includes(String(c.meta?.service)),
      );
      const dir = path.join(profileDir, config.key);
      const { files } = await profiled(instances, dir, () =>
        bookMany(gw, users, {
          from: WARMUP + BOOKINGS,
          count: BOOKINGS,
          concurrency: CONCURRENCY,
          keyPrefix,
        }),
      );
      for (const [service, list] of files) {
        const profiles = list.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as CpuProfile);
        console.error(
          formatSummary(
            `${config.key}: ${service} (${list.length} instance(s))`,
            summarizeProfiles(profiles, 25),
          ),
        );
      }
      log(`profiles in ${dir}`);
    }

    const byName = new Map(alive.map((c) => [c.name, c]));
    const cpuByGroup = new Map<string, number>();
    for (const [name, ms] of cpu) {
      const g = groupOf(byName.get(name) as Component);
      cpuByGroup.set(g, (cpuByGroup.get(g) ?? 0) + ms / booked.ok);
    }
    const s: Segment = {
      config: config.key,
      round: roundNo,
      rps: booked.ok / (booked.ms / 1000),
      latencies,
      cpuMs: [...cpu.values()].reduce((a, b) => a + b, 0) / booked.ok,
      cpuByGroup,
      spansPerBooking: spans / booked.ok,
      failed: booked.failed,
      firstFailures: booked.firstFailures,
      load: os.loadavg()[0],
    };
    log(
      `round ${roundNo + 1} ${config.key}: ${round(s.rps, 1)} bookings/s, p50 ${round(summarize(latencies).p50, 1)} ms, ` +
        `${round(s.cpuMs, 2)} ms CPU and ${round(s.spansPerBooking, 1)} spans per booking, ${booked.failed} failed, load ${loadNow()}`,
    );
    return s;
  } finally {
    await stopConfig(stack, set);
  }
}

export async function run(): Promise<Figure[]> {
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const loadBefore = loadNow();
  const stack = await Stack.start({
    etcd: true,
    replicas: 2,
    sentinel: true,
    nginx: true,
    gatewayLimits: LOAD_GATEWAY_LIMITS,
    log: process.env.BENCH_VERBOSE ? (line) => console.error(line) : undefined,
  });
  const segments: Segment[] = [];
  try {
    await startFailoverAgents(stack, { count: 2 });
    const runId = Date.now().toString(36);
    for (let r = 0; r < ROUNDS; r++)
      for (let i = 0; i < CHOSEN.length; i++)
        segments.push(await segment(stack, CHOSEN[(r + i) % CHOSEN.length], r, runId, profileDir));
  } finally {
    await stack.stop();
  }
  const loadAfter = loadNow();

  const of = (key: Config['key']) => segments.filter((s) => s.config === key);
  const rounds = (key: Config['key']) =>
    of(key)
      .map((s) => round(s.rps, 1))
      .join(', ');
  const loadList = segments.map((s) => s.load);
  const loads = `${Math.min(...loadList).toFixed(1)}-${Math.max(...loadList).toFixed(1)}`;
  const setup = `${BOOKINGS} bookings through nginx ${CONCURRENCY} at a time after ${WARMUP} warm-up, closed model, whole stack, ${ROUNDS} rounds in turns; load average ${loadBefore} before, ${loads} at the runs' ends, ${loadAfter} after, 2 cores shared`;
  const figures: Figure[] = [];
  for (const c of CHOSEN) {
    const lat = summarize(of(c.key).flatMap((s) => s.latencies));
    const cpu = median(of(c.key).map((s) => s.cpuMs));
    const groups = [...new Set(of(c.key).flatMap((s) => [...s.cpuByGroup.keys()]))]
      .map((g) => [g, median(of(c.key).map((s) => s.cpuByGroup.get(g) ?? 0))] as const)
      .sort((a, b) => b[1] - a[1])
      .map(([g, ms]) => `${g} ${round(ms, 2)}`)
      .join(', ');
    figures.push(
      {
        name: `observability.bookings.rps.${c.key}`,
        value: round(median(of(c.key).map((s) => s.rps)), 1),
        unit: 'req/s',
        anchor: `${c.what}; the median of ${rounds(c.key)}; ${setup}`,
      },
      {
        name: `observability.bookings.p50.${c.key}`,
        value: round(lat.p50, 1),
        unit: 'ms',
        anchor: `${c.what}; send to answer, ${lat.n} bookings of all rounds`,
      },
      {
        name: `observability.bookings.p99.${c.key}`,
        value: round(lat.p99, 1),
        unit: 'ms',
        anchor: `${c.what}; send to answer, ${lat.n} bookings of all rounds`,
      },
      {
        name: `observability.bookings.cpu_ms.${c.key}`,
        value: round(cpu, 2),
        unit: 'ms',
        anchor: `${c.what}; CPU per booking of every process of the stack (the generator not counted), median of the rounds; by component (ms): ${groups}`,
      },
    );
    if (c.sample !== undefined)
      figures.push({
        name: `observability.bookings.spans.${c.key}`,
        value: round(median(of(c.key).map((s) => s.spansPerBooking)), 2),
        unit: 'per booking',
        anchor: `spans the dashboard stored over the run, per booking (its stayline_dashboard_spans_received_total); off: 0 checked`,
      });
  }
  for (const c of CHOSEN.filter((x) => x.key !== 'off')) {
    const ratios = Array.from({ length: ROUNDS }, (_, r) => {
      const on = segments.find((s) => s.round === r && s.config === c.key) as Segment;
      const off = segments.find((s) => s.round === r && s.config === 'off') as Segment;
      return 1 - on.rps / off.rps;
    });
    const ofMedians = 1 - median(of(c.key).map((s) => s.rps)) / median(of('off').map((s) => s.rps));
    figures.push({
      name: `observability.bookings.overhead.${c.key}`,
      value: round(median(ratios), 3),
      unit: 'ratio',
      goal: GOAL,
      anchor: `1 - bookings/s ${c.key} / off, the median of the rounds' (${ratios.map((x) => round(x, 3)).join(', ')}); of the medians: ${round(ofMedians, 3)}; ${c.what}`,
    });
  }
  const failed = segments.reduce((n, s) => n + s.failed, 0);
  if (failed)
    log(
      `${failed} bookings failed, e.g. ${segments
        .flatMap((s) => s.firstFailures)
        .slice(0, 3)
        .join(' | ')}`,
    );
  figures.push({ name: 'observability.bookings.failed', value: failed, unit: 'count', goal: '0' });
  return figures;
}

runWhenMain(module, run);
