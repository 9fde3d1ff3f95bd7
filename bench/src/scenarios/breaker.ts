/**
 * Benchmark of the circuit breaker (docs/patterns/circuit-breaker.md), with a
 * real callee process that hangs (SIGSTOP), as in the seed's lab:
 * - breaker.open.*: a call through an open breaker, timed at the call site;
 * - breaker.none.*: the same call without a breaker, waiting out the 300 ms timeout;
 * - breaker.unrelated.throughput_ratio: a caller process's throughput on an endpoint
 *   that does not use the dependency, while the dependency hangs / while it is healthy;
 *   breaker.unrelated.cpu_ratio: the same seen as the caller's CPU time per request
 *   (healthy / hanging), which other processes on the machine barely move.
 * Clients send one request at a time at a fixed rate below saturation.
 *   node scripts/run.cjs bench/src/scenarios/breaker.ts      (prints the figures as JSON)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '@stayline/observability';
import { BreakerState, DependencyPolicy } from '@stayline/resilience';
import { TimeoutStrategy, timeout } from 'cockatiel';
import { round, summarize, type Figure, runWhenMain } from '../figure';

const ROLE = 'STAYLINE_BREAKER_BENCH_ROLE';
const NORMAL_MS = 20; // the seed's normal call
const TIMEOUT_MS = 300; // the seed's timeout
const ROUNDS = 6; // healthy/hanging pairs for the throughput ratio (even: as many A-B as B-A)
type Phase = 'healthy' | 'hanging';
interface Load {
  rps: number;
  /** CPU microseconds the caller spent per request: other processes barely move it. */
  cpuPerRequest: number;
}
const RUN_CJS = path.resolve(__dirname, '../../../scripts/run.cjs');

interface AutocannonResult {
  requests: { average: number; total: number };
  errors: number;
  non2xx: number;
}
const autocannon = createRequire(__filename)('autocannon') as (opts: {
  url: string;
  connections: number;
  duration: number;
}) => Promise<AutocannonResult>;

/** GET `url` and read the body; rejects on abort or a non-2xx status. */
function get(url: string, signal?: AbortSignal, agent?: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { signal, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () =>
        (res.statusCode ?? 0) < 300 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function listen(server: http.Server): void {
  server.listen(0, '127.0.0.1', () =>
    console.log(`listening ${(server.address() as AddressInfo).port}`),
  );
}

/** Child role: the callee, answering every call after the seed's normal 20 ms. */
function runCallee(): void {
  listen(http.createServer((_req, res) => setTimeout(() => res.end('{"ok":true}'), NORMAL_MS)));
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Child role: a caller service with a dependent endpoint and an unrelated one. */
function runCaller(calleeUrl: string): void {
  const agent = new http.Agent({ keepAlive: true });
  const logger = createLogger({
    service: 'bench-caller',
    level: 'warn',
    destination: process.stderr,
  });
  // a short reset so the bench can alternate healthy and hanging phases
  const policy = DependencyPolicy.create({
    name: 'recommendation',
    essential: false,
    timeoutMs: TIMEOUT_MS,
    resetTimeoutMs: 1_000,
    logger,
  });
  const listing = { id: 7, title: 'Stay by the sea', nights: 3, prices: [120, 125, 130] };
  const server = http.createServer(async (req, res) => {
    if (req.url === '/unrelated') return res.end(JSON.stringify(listing));
    if (req.url === '/state') return res.end(policy.state);
    if (req.url === '/cpu') return res.end(String(cpuMicros()));
    const order = await policy.call(
      { idempotent: true },
      (t) => get(calleeUrl, t.signal, agent),
      () => 'default order',
    );
    res.end(JSON.stringify({ degraded: order.degraded }));
  });
  listen(server);
}

/** Spawns this file in a role and resolves with the port it listens on. */
async function spawnRole(role: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [RUN_CJS, __filename], {
    env: { ...process.env, ...env, [ROLE]: role },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      const m = /listening (\d+)/.exec(s);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${role} exited (${code}) before listening`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** `clients` loops, each sending one call at a time every `intervalMs`, until `stop` aborts. */
async function steadyLoad(
  clients: number,
  intervalMs: number,
  stop: AbortSignal,
  call: () => Promise<unknown>,
) {
  const samples: number[] = [];
  const client = async () => {
    while (!stop.aborted) {
      const started = performance.now();
      await call().catch(() => undefined);
      const ms = performance.now() - started;
      samples.push(ms);
      if (ms < intervalMs) await sleep(intervalMs - ms);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return samples;
}

async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Throughput of the caller's unrelated endpoint, and the caller's CPU time per request. */
async function unrelatedLoad(callerUrl: string): Promise<Load> {
  const cpuBefore = Number(await get(`${callerUrl}/cpu`));
  const result = await autocannon({ url: `${callerUrl}/unrelated`, connections: 10, duration: 2 });
  const cpu = Number(await get(`${callerUrl}/cpu`)) - cpuBefore;
  if (result.errors || result.non2xx) {
    throw new Error(`unrelated endpoint failed ${result.errors + result.non2xx} times`);
  }
  return { rps: result.requests.average, cpuPerRequest: cpu / result.requests.total };
}

/** Measures the breaker figures; starts and stops its own processes. */
export async function run(): Promise<Figure[]> {
  const children: ChildProcess[] = [];
  const cleanup = () => children.forEach((c) => (c.kill('SIGCONT'), c.kill('SIGKILL')));
  // a stopped child ignores Ctrl-C: continue and kill it whichever way we end
  const interrupted = () => (cleanup(), process.exit(130));
  process.once('exit', cleanup);
  process.once('SIGINT', interrupted);
  try {
    const callee = await spawnRole('callee');
    children.push(callee.child);
    const caller = await spawnRole('caller', { CALLEE_URL: callee.url });
    children.push(caller.child);

    // 1. A caller process under steady dependent load (5 clients x 10/s = the seed's 50 calls/s);
    //    healthy and hanging phases alternate so that noise from other processes hits both alike.
    const loadAgent = new http.Agent({ keepAlive: true, maxSockets: 5 });
    const stopLoad = new AbortController();
    const load = steadyLoad(5, 100, stopLoad.signal, () =>
      get(`${caller.url}/dependent`, undefined, loadAgent),
    );
    const callerIs = (state: BreakerState) => async () =>
      (await get(`${caller.url}/state`)) === state;
    const measure = async (phase: Phase) => {
      callee.child.kill(phase === 'healthy' ? 'SIGCONT' : 'SIGSTOP');
      const state = phase === 'healthy' ? BreakerState.Closed : BreakerState.Open;
      await waitFor(callerIs(state), 10_000, `the caller's breaker to be ${state}`);
      return unrelatedLoad(caller.url);
    };
    const rounds: Array<Record<Phase, Load>> = [];
    for (let i = 0; i < ROUNDS; i++) {
      // A-B, B-A, ...: a load trend from other processes favours neither phase
      const order: Phase[] = i % 2 === 0 ? ['healthy', 'hanging'] : ['hanging', 'healthy'];
      const round: Partial<Record<Phase, Load>> = {};
      for (const phase of order) round[phase] = await measure(phase);
      rounds.push(round as Record<Phase, Load>);
    }
    callee.child.kill('SIGSTOP'); // it stays hung for the in-process part
    stopLoad.abort();
    await load;
    loadAgent.destroy();
    console.error(`unrelated endpoint per round: ${JSON.stringify(rounds)}`);
    const ratio = median(rounds.map((r) => r.hanging.rps / r.healthy.rps));
    const cpuRatio = median(rounds.map((r) => r.healthy.cpuPerRequest / r.hanging.cpuPerRequest));

    // 2. In-process, at the call site: through an open breaker, then without one.
    const attempt = ({ signal }: { signal: AbortSignal }) => get(callee.url, signal);
    const logger = createLogger({ service: 'bench', level: 'warn', destination: process.stderr });
    const policy = DependencyPolicy.create({
      name: 'payment',
      essential: true,
      timeoutMs: TIMEOUT_MS,
      resetTimeoutMs: 60_000,
      logger,
      health: false,
    });
    for (let i = 0; i < 10 && policy.state !== BreakerState.Open; i++) {
      await policy.call({}, attempt).catch(() => undefined);
    }
    if (policy.state !== BreakerState.Open) throw new Error('the in-process breaker did not open');
    const stopOpen = new AbortController();
    setTimeout(() => stopOpen.abort(), 2_000).unref();
    const open = summarize(await steadyLoad(1, 2, stopOpen.signal, () => policy.call({}, attempt)));
    policy.dispose();

    const plainTimeout = timeout(TIMEOUT_MS, TimeoutStrategy.Aggressive);
    const stopNone = new AbortController();
    setTimeout(() => stopNone.abort(), 2_500).unref();
    const none = summarize(
      await steadyLoad(10, TIMEOUT_MS, stopNone.signal, () => plainTimeout.execute(attempt)),
    );

    const anchorOpen = 'moleculer 0.32 ms (breaker moved outside its timeout)';
    return [
      { name: 'breaker.open.p50', value: round(open.p50, 4), unit: 'ms', anchor: anchorOpen },
      {
        name: 'breaker.open.p99',
        value: round(open.p99, 4),
        unit: 'ms',
        goal: '< 2 (aim <= 0.3)',
        anchor: anchorOpen,
      },
      {
        name: 'breaker.none.p50',
        value: round(none.p50, 1),
        unit: 'ms',
        anchor: 'no breaker 308 ms',
      },
      {
        name: 'breaker.none.p99',
        value: round(none.p99, 1),
        unit: 'ms',
        anchor: 'no breaker 308 ms',
      },
      {
        name: 'breaker.unrelated.rps.healthy',
        value: Math.round(median(rounds.map((r) => r.healthy.rps))),
        unit: 'req/s',
      },
      {
        name: 'breaker.unrelated.rps.hanging',
        value: Math.round(median(rounds.map((r) => r.hanging.rps))),
        unit: 'req/s',
      },
      {
        name: 'breaker.unrelated.throughput_ratio',
        value: round(ratio, 3),
        unit: 'ratio',
        goal: '>= 0.9',
      },
      {
        // the caller's CPU per unrelated request, healthy / hanging: 1 means the hang costs nothing
        name: 'breaker.unrelated.cpu_ratio',
        value: round(cpuRatio, 3),
        unit: 'ratio',
        goal: '>= 0.9',
      },
    ];
  } finally {
    cleanup();
    process.removeListener('exit', cleanup);
    process.removeListener('SIGINT', interrupted);
  }
}

// a scenario's own processes: the same file run with a role
const role = process.env[ROLE];
if (role === 'callee') runCallee();
else if (role === 'caller') runCaller(process.env['CALLEE_URL'] ?? '');
else runWhenMain(module, run);
