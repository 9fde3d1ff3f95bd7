/**
 * How the control plane's cost grows with the number of instances (issue 19,
 * part 4; docs/patterns/service-discovery.md). Lightweight simulated instances:
 * one child process registers N of them through the real registry client (a
 * lease each, renewed every second) and, during the measured window, replaces
 * 5 % of them per second (one deregistered, one new registered). On Redis and
 * on etcd, at each N (GROWTH_N, default 10,100,1000,5000):
 * - controlplane.<backend>.propagation.p50/.p99.n<N>: from a change's call to
 *   its sight by each of 3 watchers (the real watch code, each in its own
 *   process, so its CPU is read from /proc);
 *   controlplane.<backend>.propagation.missed.n<N>: sightings still missing 1.5 s after
 *   the window (left out of the percentiles);
 * - controlplane.<backend>.watcher_cpu.n<N>: the busiest watcher's share of a core;
 * - controlplane.<backend>.registrant_cpu.n<N>: the client holding all N leases;
 * - controlplane.<backend>.server_cpu/.server_rss_mb.n<N>: the data nodes (Redis
 *   primary + replica; every etcd member), CPU share and resident memory;
 * - controlplane.redis.ops_per_s.n<N>: commands Redis ran per second.
 * On Redis, the instances are the gateway's `reservation` upstreams: the real
 * gateway sync (infra/gateway-sync) renders them into the real nginx and the real
 * dashboard (apps/dashboard) shows them:
 * - gateway.nginx.reloads_per_s.n<N>, gateway.nginx.reload_ms.n<N> (p50, nginx -t
 *   to new workers), gateway.nginx.deregister_p99.n<N> (deregistration call to
 *   nginx running without it), gateway.nginx.draining_mb.n<N> (old workers
 *   still shutting down, most RSS seen), gateway.sync_cpu.n<N>;
 * - dashboard.cpu.n<N> and dashboard.cpu_us_per_instance.n<N>: the live page's
 *   collector, CPU per second and per instance.
 *   node scripts/run.cjs bench/src/scenarios/growth.ts
 *   GROWTH_N=10,100,1000 GROWTH_WINDOW_MS=8000 npm run bench -- --only=growth
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { formatRedisTarget } from '@stayline/coordination';
import {
  Component,
  gatewayUpstreams,
  isAlive,
  LOAD_GATEWAY_LIMITS,
  Stack,
  startDashboard,
  startGatewaySync,
  startStack,
  waitFor,
} from '@stayline/stack-kit';
import { Figure, round, runWhenMain, summarize } from '../figure';
import type { Backend } from '../growth/common';

const GROWTH = path.resolve(__dirname, '../growth');
const SERVICE = 'reservation';
const WATCHERS = 3;
const CHURN = 0.05;
const TICK_MS = 10; // USER_HZ: /proc counts CPU in 10 ms ticks
const now = () => performance.timeOrigin + performance.now();

function sizes(): number[] {
  const raw = process.env.GROWTH_N ?? '10,100,1000,5000';
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (!list.length || list.some((n) => !Number.isInteger(n) || n <= 0 || n > 20_000))
    throw new Error(`GROWTH_N must list instance counts (1..20000), not ${JSON.stringify(raw)}`);
  return list;
}
const WINDOW_MS = Number(process.env.GROWTH_WINDOW_MS ?? 10_000);
/** A size whose registration takes longer than this is the last one tried on that backend. */
const REGISTER_BUDGET_MS = Number(process.env.GROWTH_REGISTER_BUDGET_MS ?? 60_000);

/** utime + stime of a process, in ms. */
function cpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

function rssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** nginx workers told to shut down that still run (children of the master). */
function drainingMb(master: number | undefined): number {
  let mb = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== master) continue;
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('shutting down'))
        mb += rssMb(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return mb;
}

const lines = (file: string) =>
  fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

/** Waits for a child's `{"event": <event>}` line and returns it. */
async function said(
  c: Component,
  event: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(
    `${c.name} to say ${event}`,
    () => {
      for (const l of lines(c.spec.logFile).reverse()) {
        if (!l.startsWith('{')) continue;
        const j = JSON.parse(l) as Record<string, unknown>;
        if (j.event === event) return Boolean((found = j));
      }
      if (c.pid && !isAlive(c.pid))
        throw new Error(`${c.name} exited:\n${lines(c.spec.logFile).slice(-20).join('\n')}`);
      return false;
    },
    { timeoutMs, intervalMs: 50 },
  );
  return found as Record<string, unknown>;
}

async function readDump<T>(file: string): Promise<T> {
  await waitFor(`${path.basename(file)}`, () => fs.existsSync(file), {
    timeoutMs: 20_000,
    intervalMs: 50,
  });
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** One line of the gateway sync's log for each reload it made. */
interface ReloadLine {
  time: number;
  reason: string;
  totalMs: number;
  reloadMs: number | null;
}

function reloadsBetween(logFile: string, from: number, to: number): ReloadLine[] {
  return lines(logFile)
    .filter((l) => l.includes('nginx reloaded'))
    .map((l) => {
      const j = JSON.parse(l) as Omit<ReloadLine, 'time'> & { time: string };
      return { ...j, time: Date.parse(j.time) };
    })
    .filter((r) => r.time >= from && r.time <= to);
}

export interface PhaseResult {
  backend: Backend;
  n: number;
  registerMs: number;
  propagation: { p50: number; p99: number; n: number; missed: number };
  watcherCpu: number;
  registrantCpu: number;
  serverCpu: number;
  serverRssMb: number;
  opsPerS?: number;
  gateway?: {
    reloadsPerS: number;
    reloadMsP50: number;
    deregisterP99: number;
    drainingMb: number;
    syncCpu: number;
  };
  dashboard?: { cpu: number; usPerInstance: number };
}

interface Stamps {
  stamps: Array<['add' | 'remove', string, number]>;
  failures: number;
}

async function phase(
  stack: Stack,
  backend: Backend,
  n: number,
  target: string,
  admin?: Redis,
): Promise<PhaseResult> {
  const tag = `${backend}-n${n}`;
  const dir = path.join(stack.stateDir, 'growth');
  fs.mkdirSync(dir, { recursive: true });
  const common = ['--backend', backend, '--target', target, '--service', SERVICE];
  const watchers: Component[] = [];
  for (let i = 0; i < WATCHERS; i++) {
    const out = path.join(dir, `${tag}-w${i}.json`);
    const c = await stack.spawnScript({
      name: `growth-${tag}-w${i}`,
      script: path.join(GROWTH, 'watcher.ts'),
      args: [...common, '--out', out],
    });
    watchers.push(c);
  }
  for (const w of watchers) await said(w, 'watching', 60_000);
  const t0 = performance.now();
  const regOut = path.join(dir, `${tag}-registrant.json`);
  const registrant = await stack.spawnScript({
    name: `growth-${tag}-registrant`,
    script: path.join(GROWTH, 'registrants.ts'),
    args: [...common, '--n', String(n), '--churn', String(CHURN), '--out', regOut],
    kind: 'service',
  });
  const gateway = backend === 'redis' && stack.components.some((c) => c.name === 'gateway-sync');
  try {
    const reg = await said(registrant, 'registered', 5 * 60_000);
    const registerMs = performance.now() - t0;
    if (gateway)
      await waitFor(
        `nginx to run ${n} upstreams`,
        async () => ((await gatewayUpstreams(stack)).upstreams[SERVICE] ?? []).length === n,
        { timeoutMs: 60_000, intervalMs: 100 },
      );
    await sleep(2_000); // past the registration burst (and the watches' expiry grace)
    const pids = {
      watchers: watchers.map((w) => w.pid),
      registrant: registrant.pid,
      servers: stack.byKind(backend === 'redis' ? 'redis' : 'etcd').map((c) => c.pid as number),
      sync: gateway ? stack.component('gateway-sync').pid : undefined,
      dashboard: gateway ? stack.component('dashboard-1').pid : undefined,
    };
    const cpu = () => ({
      watchers: pids.watchers.map(cpuMs),
      registrant: cpuMs(pids.registrant),
      servers: pids.servers.reduce((s, p) => s + cpuMs(p), 0),
      sync: cpuMs(pids.sync),
      dashboard: cpuMs(pids.dashboard),
    });
    const commands = async () =>
      admin ? Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))?.[1]) : 0;
    const before = cpu();
    const cmd0 = await commands();
    const from = now();
    const start = performance.now();
    process.kill(registrant.pid as number, 'SIGUSR1');
    let draining = 0;
    const master = gateway ? stack.byKind('nginx')[0].pid : undefined;
    while (performance.now() - start < WINDOW_MS) {
      await sleep(200);
      if (master) draining = Math.max(draining, drainingMb(master));
    }
    const elapsed = performance.now() - start;
    const after = cpu();
    const cmd1 = await commands();
    const to = now();
    process.kill(registrant.pid as number, 'SIGUSR2');
    const { stamps, failures } = await readDump<Stamps>(regOut);
    await sleep(1_500); // the last changes reach the watchers (and nginx)
    const sightings: Array<Map<string, number[]>> = [];
    for (const [i, w] of watchers.entries()) {
      process.kill(w.pid as number, 'SIGUSR2');
      const d = await readDump<{ seen: Array<[string, number[]]> }>(
        path.join(dir, `${tag}-w${i}.json`),
      );
      sightings.push(new Map(d.seen));
    }
    const samples: number[] = [];
    let missed = 0;
    for (const [kind, id, at] of stamps)
      for (const seen of sightings) {
        const t = seen.get(`${kind} ${id}`)?.find((seenAt) => seenAt >= at);
        if (t === undefined) missed++;
        else samples.push(t - at);
      }
    const share = (a: number, b: number) => (b - a) / elapsed;
    const prop = summarize(samples);
    const result: PhaseResult = {
      backend,
      n,
      registerMs,
      propagation: { p50: prop.p50, p99: prop.p99, n: prop.n, missed },
      watcherCpu: Math.max(...after.watchers.map((c, i) => share(before.watchers[i], c))),
      registrantCpu: share(before.registrant, after.registrant),
      serverCpu: share(before.servers, after.servers),
      serverRssMb: pids.servers.reduce((s, p) => s + rssMb(p), 0),
      opsPerS: admin ? ((cmd1 - cmd0) / elapsed) * 1000 : undefined,
    };
    if (gateway) {
      const logFile = stack.component('gateway-sync').spec.logFile;
      const reloads = reloadsBetween(logFile, from, to + 1_500);
      const inWindow = reloads.filter((r) => r.time <= to);
      const removedAt = new Map(
        stamps.filter(([k]) => k === 'remove').map(([, id, at]) => [id, at]),
      );
      const deregs: number[] = [];
      for (const r of reloads)
        for (const m of r.reason.matchAll(/: (\S+) removed \(deregistered\)/g)) {
          const at = removedAt.get(m[1]);
          if (at !== undefined) {
            deregs.push(r.time - at);
            removedAt.delete(m[1]);
          }
        }
      result.gateway = {
        reloadsPerS: (inWindow.length / elapsed) * 1000,
        reloadMsP50: summarize(inWindow.map((r) => r.totalMs)).p50,
        deregisterP99: summarize(deregs).p99,
        drainingMb: draining,
        syncCpu: share(before.sync, after.sync),
      };
      const dash = share(before.dashboard, after.dashboard);
      result.dashboard = { cpu: dash, usPerInstance: (dash * 1e6) / n };
    }
    const syncError = gateway ? (await gatewayUpstreams(stack)).lastError : undefined;
    console.error(
      `${syncError ? `growth ${tag}: the gateway sync's last error: ${syncError}\n` : ''}growth ${tag}: registered ${String(reg.n)} in ${round(registerMs / 1000, 1)} s, ` +
        `${stamps.length} changes (${failures} failed calls), ${samples.length} sightings, ${missed} missed; ` +
        `load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    );
    return result;
  } finally {
    // the registrant deregisters what it holds: the next size starts from none
    await stack.stopComponent(registrant.name).catch(() => undefined);
    for (const w of watchers) await stack.stopComponent(w.name).catch(() => undefined);
    if (gateway)
      await waitFor(
        'nginx to run no simulated upstream',
        async () => ((await gatewayUpstreams(stack)).upstreams[SERVICE] ?? []).length === 0,
        { timeoutMs: 30_000, intervalMs: 200 },
      ).catch(() => undefined);
  }
}

const fmt = (v: number | undefined, digits = 2) =>
  v === undefined || Number.isNaN(v) ? '-' : String(round(v, digits));

/** The table per size, and the growth: each figure's ratio to the previous size's, against N's ratio. */
export function growthTable(results: PhaseResult[]): string {
  const columns: Array<[string, (r: PhaseResult) => number | undefined]> = [
    ['prop p50 ms', (r) => r.propagation.p50],
    ['prop p99 ms', (r) => r.propagation.p99],
    ['watcher cpu', (r) => r.watcherCpu],
    ['registrant cpu', (r) => r.registrantCpu],
    ['server cpu', (r) => r.serverCpu],
    ['server MB', (r) => r.serverRssMb],
    ['redis ops/s', (r) => r.opsPerS],
    ['reloads/s', (r) => r.gateway?.reloadsPerS],
    ['reload ms', (r) => r.gateway?.reloadMsP50],
    ['dereg→nginx p99', (r) => r.gateway?.deregisterP99],
    ['draining MB', (r) => r.gateway?.drainingMb],
    ['sync cpu', (r) => r.gateway?.syncCpu],
    ['dashboard cpu', (r) => r.dashboard?.cpu],
  ];
  const out: string[] = [];
  for (const backend of ['redis', 'etcd'] as Backend[]) {
    const rows = results.filter((r) => r.backend === backend);
    if (!rows.length) continue;
    const used = columns.filter(([, f]) => rows.some((r) => f(r) !== undefined));
    const header = ['N', ...used.map(([h]) => h)];
    const table = rows.map((r) => [String(r.n), ...used.map(([, f]) => fmt(f(r)))]);
    const growth = rows.slice(1).map((r, i) => {
      const prev = rows[i];
      return [
        `x${round(r.n / prev.n, 1)}`,
        ...used.map(([, f]) => {
          const a = f(prev);
          const b = f(r);
          return a && b !== undefined ? `x${round(b / a, 1)}` : '-';
        }),
      ];
    });
    const all = [header, ...table, ...growth];
    const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
    out.push(`${backend} (growth rows: ratio to the previous N)`);
    for (const row of all) out.push(row.map((v, i) => v.padStart(widths[i])).join('  '));
  }
  return out.join('\n');
}

function figures(results: PhaseResult[]): Figure[] {
  const out: Figure[] = [];
  for (const r of results) {
    const b = `controlplane.${r.backend}`;
    const n = `n${r.n}`;
    const goal1000 = r.backend === 'redis' && r.n === 1000;
    const churn = `${r.n} instances, 5 %/s churning, ${WATCHERS} watchers`;
    out.push(
      {
        name: `${b}.propagation.p50.${n}`,
        value: round(r.propagation.p50),
        unit: 'ms',
        anchor: churn,
      },
      {
        name: `${b}.propagation.p99.${n}`,
        value: round(r.propagation.p99),
        unit: 'ms',
        goal: goal1000 ? '< 100' : undefined,
      },
      {
        // a change some watcher had not seen 1.5 s after the window: not in the percentiles
        name: `${b}.propagation.missed.${n}`,
        value: r.propagation.missed,
        unit: 'sightings',
        goal: '0',
        anchor: `of ${r.propagation.n + r.propagation.missed} (changes x ${WATCHERS} watchers) not seen 1.5 s after the window`,
      },
      {
        name: `${b}.watcher_cpu.${n}`,
        value: round(r.watcherCpu),
        unit: 'share of a core',
        goal: goal1000 ? '< 0.2' : undefined,
        anchor: 'the busiest watcher process',
      },
      {
        name: `${b}.registrant_cpu.${n}`,
        value: round(r.registrantCpu),
        unit: 'share of a core',
        anchor: `one client renewing ${r.n} leases every second`,
      },
      {
        name: `${b}.server_cpu.${n}`,
        value: round(r.serverCpu),
        unit: 'share of a core',
        anchor: r.backend === 'redis' ? 'primary + replica' : 'every etcd member',
      },
      { name: `${b}.server_rss_mb.${n}`, value: round(r.serverRssMb, 1), unit: 'MB' },
    );
    if (r.opsPerS !== undefined)
      out.push({ name: `${b}.ops_per_s.${n}`, value: round(r.opsPerS, 0), unit: 'commands/s' });
    if (r.gateway)
      out.push(
        {
          name: `gateway.nginx.reloads_per_s.${n}`,
          value: round(r.gateway.reloadsPerS),
          unit: '1/s',
          goal: r.n === 1000 ? '<= 2' : undefined,
        },
        {
          name: `gateway.nginx.reload_ms.${n}`,
          value: round(r.gateway.reloadMsP50, 1),
          unit: 'ms',
          anchor: 'p50, nginx -t to new workers running',
        },
        {
          name: `gateway.nginx.deregister_p99.${n}`,
          value: round(r.gateway.deregisterP99, 1),
          unit: 'ms',
          anchor: 'deregister() called to nginx reloaded without it',
        },
        {
          name: `gateway.nginx.draining_mb.${n}`,
          value: round(r.gateway.drainingMb, 1),
          unit: 'MB',
          anchor: 'old workers shutting down, most seen',
        },
        { name: `gateway.sync_cpu.${n}`, value: round(r.gateway.syncCpu), unit: 'share of a core' },
      );
    if (r.dashboard)
      out.push(
        { name: `dashboard.cpu.${n}`, value: round(r.dashboard.cpu), unit: 'share of a core' },
        {
          name: `dashboard.cpu_us_per_instance.${n}`,
          value: round(r.dashboard.usPerInstance, 1),
          unit: 'µs CPU per s per instance',
        },
      );
  }
  return out;
}

export async function run(): Promise<Figure[]> {
  const ns = sizes();
  const stack = await startStack({
    mariadb: false,
    sentinel: true,
    etcd: 3,
    nginx: true,
    gatewayLimits: LOAD_GATEWAY_LIMITS,
  });
  const results: PhaseResult[] = [];
  let admin: Redis | undefined;
  try {
    const { primary } = stack.redis;
    const adminAuth = stack.redisAuth('admin');
    admin = new Redis({
      host: primary.host,
      port: primary.port,
      username: adminAuth.username,
      password: adminAuth.password,
      lazyConnect: true,
    });
    await admin.connect();
    await startGatewaySync(stack, { readyTimeoutMs: 90_000 }).catch((err: Error) => {
      const log = path.join(stack.stateDir, 'gateway-sync', 'gateway-sync.log');
      throw new Error(`${err.message}\n${lines(log).slice(-15).join('\n')}`);
    });
    await startDashboard(stack, { env: { DASHBOARD_SERVICES: SERVICE } });
    const { sentinels, ...logins } = stack.redisTarget('service');
    const targets: Record<Backend, string> = {
      redis: formatRedisTarget({
        ...logins,
        sentinels: sentinels.map(({ host, port }) => ({ host, port })),
      }),
      etcd: stack.etcd.endpoints.join(','),
    };
    const listed = process.env.GROWTH_BACKENDS ?? 'redis,etcd';
    const backends = listed.split(',') as Backend[];
    if (!backends.every((b) => b === 'redis' || b === 'etcd'))
      throw new Error(`GROWTH_BACKENDS lists redis and/or etcd, not ${listed}`);
    for (const backend of backends)
      for (const n of ns) {
        const r = await phase(
          stack,
          backend,
          n,
          targets[backend],
          backend === 'redis' ? admin : undefined,
        );
        results.push(r);
        if (r.registerMs > REGISTER_BUDGET_MS) {
          console.error(
            `growth ${backend}: ${n} took ${round(r.registerMs / 1000, 1)} s to register; no larger size`,
          );
          break;
        }
      }
    console.error(`\n${growthTable(results)}\n`);
    return figures(results);
  } finally {
    admin?.disconnect();
    await stack.stop();
  }
}

runWhenMain(module, run);
