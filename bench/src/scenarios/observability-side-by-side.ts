/**
 * What observability costs a booking, measured side by side. The observability
 * scenario runs its configurations one after another, a minute apart; on a
 * shared 2-core VM a segment's throughput moves by ±20 % from one minute to the
 * next, more than the difference sought. Here two whole stacks run at once
 * (each its own MariaDB x3, Redis x2 + 3 Sentinels, etcd x3, 2 failover agents,
 * nginx), one with observability off and one with it on, and the load takes
 * turns between them in short slices: SLICE bookings on one, SLICE on the other,
 * PAIRS times, the order flipped every pair (off-on, on-off, ...). Two slices
 * of a pair are seconds apart, so a slower minute slows both.
 * Each configuration is measured twice with the stacks' roles swapped (a
 * crossover), so a difference between the two stacks' datastores (a warmer
 * buffer pool, a table that grew) counts against each side alike.
 * What a configuration starts on its stack is the observability scenario's
 * (startConfig): 2 instances of every service, the gateway sync, the dashboard
 * and, when on, Prometheus scraping every 5 s. The idle stack is not paused:
 * its datastores, agents and (when on) Prometheus keep their background work,
 * which takes the same CPU from either side's slices.
 * - observability.side_by_side.overhead.<config>: 1 - on / off bookings/s, the
 *   median of the pairs' ratios (both phases), with a >= 95 % interval of that
 *   median from the ratios' order statistics;
 * - observability.side_by_side.overhead_upper.<config>: the interval's upper end;
 * - observability.side_by_side.cpu_overhead(_upper).<config>: the same of the CPU
 *   per booking (1 - off / on), the loaded stack's processes: the throughput given
 *   up where the stack's CPU is the limit, and less moved by a slower minute;
 * - observability.side_by_side.rps.<config>.<on|off>: bookings/s over all their slices;
 * - observability.side_by_side.cpu_ms.<config>.<on|off>: CPU ms per booking of the
 *   loaded stack's processes, the median of the slices.
 *   node scripts/run.cjs bench/src/scenarios/observability-side-by-side.ts
 *   npm run bench -- --only=observability-side-by-side
 * BENCH_SBS_CONFIGS (default `traced_1pct,traced_10pct`; also `traced_all`,
 * `metrics_only`, `traced_all_no_metrics`), BENCH_SBS_PAIRS (default 12 per
 * phase) and BENCH_SBS_SLICE (default 400 bookings) change the run.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Component,
  isAlive,
  LOAD_GATEWAY_LIMITS,
  Stack,
  startFailoverAgents,
} from '@stayline/stack-kit';
import { bookMany, userHeaders } from '../booking-load';
import { round, summarize, type Figure, runWhenMain } from '../figure';
import { cpuByComponent, cpuDelta } from '../process-cpu';
import {
  awaitScrapes,
  checkTracing,
  type Config,
  CONFIGS,
  type ConfigSet,
  EXPORT_WAIT_MS,
  spansStored,
  startConfig,
  stopConfig,
  USERS,
  WARMUP,
} from './observability';

const PAIRS = Number(process.env.BENCH_SBS_PAIRS ?? 12);
const SLICE = Number(process.env.BENCH_SBS_SLICE ?? 400);
/** The observability scenario's load: 16 bookings at a time. */
const CONCURRENCY = 16;
const GOAL = '< 0.10';

const OFF = CONFIGS.find((c) => c.key === 'off') as Config;
const CHOSEN: readonly Config[] = (() => {
  const keys = (process.env.BENCH_SBS_CONFIGS ?? 'traced_1pct,traced_10pct').split(',');
  const chosen = keys.map((k) => CONFIGS.find((c) => c.key === k && c.key !== 'off'));
  const unknown = keys.filter((_, i) => !chosen[i]);
  if (unknown.length) throw new Error(`BENCH_SBS_CONFIGS: no configuration ${unknown.join(', ')}`);
  return chosen as Config[];
})();

const log = (line: string) => console.error(`observability side by side: ${line}`);
const median = (xs: number[]) => summarize(xs).p50;

interface Slice {
  side: 'on' | 'off';
  rps: number;
  ok: number;
  ms: number;
  failed: number;
  firstFailures: string[];
  /** CPU ms per booking of the loaded stack's processes. */
  cpuMs: number;
}

interface Pair {
  phase: number;
  on: Slice;
  off: Slice;
}

/**
 * A distribution-free interval for the median of independent samples, from
 * their order statistics: [x(k), x(n-k+1)] with k the largest such that
 * P(Binomial(n, 1/2) < k) <= 2.5 %, so it holds the median with >= 95 %.
 * Also the coverage it reaches; none below 6 samples.
 */
function medianInterval(xs: number[]): { low: number; high: number; coverage: number } | undefined {
  const n = xs.length;
  const sorted = [...xs].sort((a, b) => a - b);
  let below = 0; // P(X < k)
  let k = 0;
  let term = 0.5 ** n; // P(X = 0)
  for (let i = 0; i < n; i++) {
    if (below + term > 0.025) break;
    below += term;
    k = i + 1;
    term = (term * (n - i)) / (i + 1);
  }
  if (k === 0) return undefined;
  return { low: sorted[k - 1], high: sorted[n - k], coverage: 1 - 2 * below };
}

/** One side of the comparison: a stack, the configuration's processes on it, its users and its next booking. */
interface Side {
  stack: Stack;
  set: ConfigSet;
  users: Array<Record<string, string>>;
  next: number;
  keyPrefix: string;
}

async function slice(side: Side, name: 'on' | 'off'): Promise<Slice> {
  const alive = side.stack.components.filter((c: Component) => isAlive(c.pid));
  const before = cpuByComponent(alive);
  const run = await bookMany(side.set.gw, side.users, {
    from: side.next,
    count: SLICE,
    concurrency: CONCURRENCY,
    keyPrefix: side.keyPrefix,
  });
  const cpu = cpuDelta(before, cpuByComponent(alive));
  side.next += SLICE;
  return {
    side: name,
    rps: run.ok / (run.ms / 1000),
    ok: run.ok,
    ms: run.ms,
    failed: run.failed,
    firstFailures: run.firstFailures,
    cpuMs: [...cpu.values()].reduce((a, b) => a + b, 0) / Math.max(1, run.ok),
  };
}

/** One phase: `config` on `onStack`, off on `offStack`, PAIRS pairs of slices. */
async function phase(
  config: Config,
  phaseNo: number,
  onStack: Stack,
  offStack: Stack,
  runId: string,
): Promise<{ pairs: Pair[]; spansPerBooking: number }> {
  const sets: ConfigSet[] = [];
  try {
    sets.push(await startConfig(offStack, OFF));
    sets.push(await startConfig(onStack, config));
    const [offSet, onSet] = sets;
    const side = async (stack: Stack, set: ConfigSet, name: string): Promise<Side> => ({
      stack,
      set,
      users: await userHeaders(stack, 'obs-', USERS),
      next: 0,
      keyPrefix: `obs-sbs-${runId}-${config.key}-${phaseNo}-${name}`,
    });
    const off = await side(offStack, offSet, 'off');
    const on = await side(onStack, onSet, 'on');
    for (const s of [off, on]) {
      const warm = await bookMany(s.set.gw, s.users, {
        from: 0,
        count: WARMUP,
        concurrency: CONCURRENCY,
        keyPrefix: s.keyPrefix,
      });
      if (warm.failed) log(`warm-up: ${warm.failed} failed, e.g. ${warm.firstFailures[0]}`);
      s.next = WARMUP;
    }
    await sleep(EXPORT_WAIT_MS);
    await awaitScrapes(onStack, config);

    const spansBefore = await spansStored(onSet.dashboard);
    const pairs: Pair[] = [];
    for (let k = 0; k < PAIRS; k++) {
      // off first in even pairs, on first in odd ones: a trend within a pair costs each alike
      const first = k % 2 === 0 ? await slice(off, 'off') : await slice(on, 'on');
      const second = k % 2 === 0 ? await slice(on, 'on') : await slice(off, 'off');
      const [a, b] = first.side === 'on' ? [first, second] : [second, first];
      pairs.push({ phase: phaseNo, on: a, off: b });
      log(
        `${config.key} phase ${phaseNo + 1} pair ${k + 1}: off ${round(b.rps, 1)}, on ${round(a.rps, 1)} bookings/s ` +
          `(${round(100 * (1 - a.rps / b.rps), 1)} %); CPU per booking off ${round(b.cpuMs, 2)}, on ${round(a.cpuMs, 2)} ms; ` +
          `load ${os.loadavg()[0].toFixed(1)}`,
      );
    }
    await sleep(EXPORT_WAIT_MS);
    const booked = pairs.reduce((n, p) => n + p.on.ok, 0);
    const spans = (await spansStored(onSet.dashboard)) - spansBefore;
    await checkTracing(onSet, spans);
    await checkTracing(offSet, 0);
    return { pairs, spansPerBooking: spans / booked };
  } finally {
    for (const [i, set] of sets.entries()) await stopConfig(i === 0 ? offStack : onStack, set);
  }
}

export async function run(): Promise<Figure[]> {
  const loadBefore = os.loadavg()[0].toFixed(1);
  const stacks: Stack[] = [];
  const byConfig = new Map<Config['key'], { pairs: Pair[]; spans: number[] }>();
  try {
    for (let i = 0; i < 2; i++) {
      stacks.push(
        await Stack.start({
          etcd: true,
          replicas: 2,
          sentinel: true,
          nginx: true,
          gatewayLimits: LOAD_GATEWAY_LIMITS,
          log: process.env.BENCH_VERBOSE ? (line) => console.error(line) : undefined,
        }),
      );
      await startFailoverAgents(stacks[i], { count: 2 });
    }
    const runId = Date.now().toString(36);
    for (const config of CHOSEN) {
      const got = { pairs: [] as Pair[], spans: [] as number[] };
      // the crossover: the configuration on the second stack, then on the first
      for (const p of [0, 1]) {
        const r = await phase(config, p, stacks[1 - p], stacks[p], runId);
        got.pairs.push(...r.pairs);
        got.spans.push(r.spansPerBooking);
      }
      byConfig.set(config.key, got);
    }
  } finally {
    for (const s of stacks) await s.stop();
  }
  const loadAfter = os.loadavg()[0].toFixed(1);

  const setup =
    `two whole stacks at once, the load in turns: ${PAIRS} pairs of ${SLICE}-booking slices per phase ` +
    `(${CONCURRENCY} at a time through each stack's nginx, closed model, after ${WARMUP} warm-up), ` +
    `2 phases with the stacks' roles swapped; load average ${loadBefore} before, ${loadAfter} after, 2 cores shared`;
  const figures: Figure[] = [];
  let failed = 0;
  const failures: string[] = [];
  for (const config of CHOSEN) {
    const { pairs, spans } = byConfig.get(config.key) as { pairs: Pair[]; spans: number[] };
    const ratios = pairs.map((p) => 1 - p.on.rps / p.off.rps);
    const ci = medianInterval(ratios);
    const interval = (i: typeof ci) =>
      i
        ? `${round(100 * i.coverage, 1)} % interval of the median ${round(i.low, 3)} to ${round(i.high, 3)} (order statistics)`
        : 'too few pairs for an interval';
    // what the CPU a booking takes says: on a host where the stack's CPU is the limit, the throughput given up
    const cpuRatios = pairs.map((p) => 1 - p.off.cpuMs / p.on.cpuMs);
    const cpuCi = medianInterval(cpuRatios);
    const overall = (side: 'on' | 'off') => {
      const slices = pairs.map((p) => p[side]);
      return slices.reduce((n, s) => n + s.ok, 0) / (slices.reduce((n, s) => n + s.ms, 0) / 1000);
    };
    const byPhase = [0, 1]
      .map((ph) => round(median(ratios.filter((_, i) => pairs[i].phase === ph)), 3))
      .join(' and ');
    const ofSums = 1 - overall('on') / overall('off');
    const measures = [
      {
        name: 'overhead',
        ratios,
        ci,
        what: `1 - bookings/s on / off, the median of ${ratios.length} pairs' ratios (the two phases' medians ${byPhase}); ${interval(ci)}; of all slices' bookings over their time: ${round(ofSums, 3)}; on: ${config.what}; off: ${OFF.what}; ${setup}`,
      },
      {
        name: 'cpu_overhead',
        ratios: cpuRatios,
        ci: cpuCi,
        what: `1 - CPU per booking off / on (the loaded stack's processes, /proc), the median of ${cpuRatios.length} pairs' ratios; ${interval(cpuCi)}: the throughput given up where the stack's CPU is the limit`,
      },
    ];
    for (const m of measures) {
      const name = `observability.side_by_side.${m.name}.${config.key}`;
      figures.push({
        name,
        value: round(median(m.ratios), 3),
        unit: 'ratio',
        goal: GOAL,
        anchor: m.what,
      });
      if (m.ci)
        figures.push({
          name: `observability.side_by_side.${m.name}_upper.${config.key}`,
          value: round(m.ci.high, 3),
          unit: 'ratio',
          goal: GOAL,
          anchor: `the upper end of the ${round(100 * m.ci.coverage, 1)} % interval of ${name}'s median (order statistics, distribution-free): below it with that confidence`,
        });
    }
    for (const side of ['on', 'off'] as const) {
      figures.push(
        {
          name: `observability.side_by_side.rps.${config.key}.${side}`,
          value: round(overall(side), 1),
          unit: 'req/s',
          anchor: `${side === 'on' ? config.what : OFF.what}; bookings over the time of all its slices; ${setup}`,
        },
        {
          name: `observability.side_by_side.cpu_ms.${config.key}.${side}`,
          value: round(median(pairs.map((p) => p[side].cpuMs)), 2),
          unit: 'ms',
          anchor: `CPU per booking of the loaded stack's processes (/proc; the idle stack and the generator not counted), the median of the slices`,
        },
      );
    }
    figures.push({
      name: `observability.side_by_side.spans.${config.key}`,
      value: round(median(spans), 2),
      unit: 'per booking',
      anchor: `spans the on stack's dashboard stored per booking, the median of the two phases; the off stack's dashboard stored none (checked)`,
    });
    for (const p of pairs)
      for (const s of [p.on, p.off]) {
        failed += s.failed;
        failures.push(...s.firstFailures);
      }
  }
  if (failed) log(`${failed} bookings failed, e.g. ${failures.slice(0, 3).join(' | ')}`);
  figures.push({
    name: 'observability.side_by_side.failed',
    value: failed,
    unit: 'count',
    goal: '0',
  });
  return figures;
}

runWhenMain(module, run);
