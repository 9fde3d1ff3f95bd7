/**
 * Where a booking's CPU goes: the whole stack as `npm run stack:up` runs it
 * (MariaDB x3 semi-sync, Redis x2 + 3 Sentinels, etcd x3, the 2 failover agents,
 * 2 instances of every service, the gateway sync, the dashboard, nginx), then
 * a fixed number of bookings through nginx, each a new one-night stay with its
 * own Idempotency-Key, by users whose tokens were issued before the clock starts.
 * - gateway.bookings.cpu_ms: CPU ms (utime + stime from /proc, children reaped
 *   included: nginx workers replaced by a reload) of every process of the stack,
 *   per booking; `gateway.bookings.cpu_ms.<component>` for each process,
 *   `.background` what the stack burns idle over as long (measured before);
 * - gateway.bookings.sql.<counter>: the primary's SHOW GLOBAL STATUS deltas per
 *   booking (statements, transactions, semi-sync acknowledged commits), less
 *   what the idle stack sends it over as long (the agents' and services' polling);
 * - gateway.bookings.throughput: bookings/s of that run (not a capacity figure).
 * The load generator (this process) is not counted.
 * With BENCH_PROFILE_DIR set, reservation and payment run with the inspector on
 * 127.0.0.1 (a free port), and a second run of bookings is profiled through it:
 * one .cpuprofile per instance in that directory, and the self time by package
 * and by function printed (bench/src/cpuprofile.ts).
 *   node scripts/run.cjs bench/src/scenarios/bookings.ts          (prints the figures as JSON)
 *   BENCH_PROFILE_DIR=/tmp/prof npm run bench -- --only=bookings
 * BENCH_BOOKINGS (default 2000) and BENCH_BOOKING_CONCURRENCY (default 8) change the run.
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Component, Stack } from '@stayline/stack-kit';
import { bookMany, type BookingRun, startLoadStack, userHeaders } from '../booking-load';
import { type CpuProfile, formatSummary, summarizeProfiles } from '../cpuprofile';
import { profiled } from '../inspector';
import { cpuByComponent, cpuDelta } from '../process-cpu';
import { round, type Figure, runWhenMain } from '../figure';

const BOOKINGS = Number(process.env.BENCH_BOOKINGS ?? 2_000);
const WARMUP = 200;
const CONCURRENCY = Number(process.env.BENCH_BOOKING_CONCURRENCY ?? 8);
const USERS = 97;
const IDLE_MS = 10_000;
const PROFILED = ['reservation', 'payment'];
/** The primary's counters read around the bookings. */
const SQL_COUNTERS = [
  'Questions',
  'Com_begin',
  'Com_commit',
  'Com_rollback',
  'Com_select',
  'Com_insert',
  'Com_update',
  'Com_delete',
  'Com_set_option',
  'Rpl_semi_sync_master_yes_tx',
];
async function sqlCounters(stack: Stack): Promise<Record<string, number>> {
  const rows = await stack.query<{ Variable_name: string; Value: string }>(
    'reservation',
    `SHOW GLOBAL STATUS WHERE Variable_name IN (${SQL_COUNTERS.map(() => '?').join(', ')})`,
    SQL_COUNTERS,
  );
  return Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]));
}

function describe(c: Component): string {
  const service = typeof c.meta?.service === 'string' ? c.meta.service : undefined;
  return [c.kind, service && service !== c.name ? service : undefined, c.role]
    .filter(Boolean)
    .join(', ');
}

function checked(run: BookingRun, what: string): BookingRun {
  if (run.failed)
    console.error(`${what}: ${run.failed} bookings failed, e.g. ${run.firstFailures.join(' | ')}`);
  return run;
}

export async function run(): Promise<Figure[]> {
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const inspect = profileDir
    ? `${process.env.NODE_OPTIONS ?? ''} --inspect=127.0.0.1:0`.trim()
    : undefined;
  const stack = await startLoadStack(
    inspect
      ? { env: Object.fromEntries(PROFILED.map((s) => [s, { NODE_OPTIONS: inspect }])) }
      : undefined,
  );
  const figures: Figure[] = [];
  try {
    const gw = stack.nginx.url;
    const users = await userHeaders(stack, 'bench-', USERS);
    const keyPrefix = `cpu-${Date.now()}`;
    checked(
      await bookMany(gw, users, { from: 0, count: WARMUP, concurrency: CONCURRENCY, keyPrefix }),
      'warm-up',
    );

    // what the stack burns with no bookings at all: registry renewals, health checks, polling
    const idleSqlBefore = await sqlCounters(stack);
    const idleBefore = cpuByComponent(stack.components);
    const idleT0 = performance.now();
    await sleep(IDLE_MS);
    const idle = cpuDelta(idleBefore, cpuByComponent(stack.components));
    const idleMs = performance.now() - idleT0;
    const idleSql = await sqlCounters(stack);

    const sqlBefore = await sqlCounters(stack);
    const cpuBefore = cpuByComponent(stack.components);
    const booked = checked(
      await bookMany(gw, users, {
        from: WARMUP,
        count: BOOKINGS,
        concurrency: CONCURRENCY,
        keyPrefix,
      }),
      'measured run',
    );
    const cpu = cpuDelta(cpuBefore, cpuByComponent(stack.components));
    const sqlAfter = await sqlCounters(stack);

    const perBooking = (ms: number) => round(ms / BOOKINGS, 2);
    const total = [...cpu.values()].reduce((a, b) => a + b, 0);
    const background = ([...idle.values()].reduce((a, b) => a + b, 0) * booked.ms) / idleMs;
    const anchor = `${BOOKINGS} bookings through nginx, ${CONCURRENCY} at a time, whole stack on ${stack.components.length} processes, 2 cores shared with other work`;
    figures.push(
      { name: 'gateway.bookings.cpu_ms', value: perBooking(total), unit: 'ms', anchor },
      {
        name: 'gateway.bookings.cpu_ms.background',
        value: perBooking(background),
        unit: 'ms',
        anchor: `the stack's CPU with no load over as long as the bookings took (${IDLE_MS / 1000} s idle, scaled), per booking`,
      },
      {
        name: 'gateway.bookings.throughput',
        value: round(BOOKINGS / (booked.ms / 1000), 1),
        unit: 'req/s',
        anchor: `that run, ${CONCURRENCY} at a time (not a capacity figure)`,
      },
      { name: 'gateway.bookings.failed', value: booked.failed, unit: 'count', goal: '0' },
    );
    const byName = new Map(stack.components.map((c) => [c.name, c]));
    for (const [name, ms] of [...cpu].sort((a, b) => b[1] - a[1])) {
      const c = byName.get(name) as Component;
      figures.push({
        name: `gateway.bookings.cpu_ms.${name}`,
        value: perBooking(ms),
        unit: 'ms',
        anchor: `${describe(c)}; ${round((100 * ms) / total, 1)} % of the total; idle: ${perBooking(((idle.get(name) ?? 0) * booked.ms) / idleMs)} ms`,
      });
    }
    for (const counter of SQL_COUNTERS) {
      if (!(counter in sqlBefore)) continue;
      const gross = sqlAfter[counter] - sqlBefore[counter];
      const idleRun = ((idleSql[counter] - idleSqlBefore[counter]) * booked.ms) / idleMs;
      figures.push({
        name: `gateway.bookings.sql.${counter.toLowerCase()}`,
        value: round((gross - idleRun) / BOOKINGS, 2),
        unit: 'per booking',
        anchor: `primary ${stack.mariadb.primary.name}, SHOW GLOBAL STATUS delta over the run less the idle stack's over as long (${round(gross / BOOKINGS, 2)} gross)`,
      });
    }

    if (profileDir) {
      const instances = stack.components.filter((c) => PROFILED.includes(String(c.meta?.service)));
      const { value: again, files } = await profiled(instances, profileDir, () =>
        bookMany(gw, users, {
          from: WARMUP + BOOKINGS,
          count: BOOKINGS,
          concurrency: CONCURRENCY,
          keyPrefix,
        }),
      );
      checked(again, 'profiled run');
      for (const [service, list] of files) {
        const profiles = list.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as CpuProfile);
        console.error(
          formatSummary(`${service} (${list.length} instances)`, summarizeProfiles(profiles)),
        );
      }
      console.error(`profiles in ${profileDir}`);
    }
  } finally {
    await stack.stop();
  }
  return figures;
}

runWhenMain(module, run);
