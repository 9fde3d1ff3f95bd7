/**
 * A randomised run: a seeded schedule of faults (lib/faults.ts) under the
 * booking workload, each held for a drawn time, healed, and settled before the
 * next; the checker at the end. The schedule is printed as it runs, and the
 * same seed plays the same schedule again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { check, historyOf, NodeSampler, waitConverged, type CheckResult } from './checker';
import { REPO_ROOT, type ComposeStack } from './compose-stack';
import { FAULTS, seeded, settle } from './faults';
import { BookingRun } from './gateway';
import { Nemesis } from './nemesis';

export interface ScheduleOptions {
  minutes: number;
  seed: number;
  /** Booking clients (default 4). */
  clients?: number;
  /** Play these faults (by name, lib/faults.ts) in this order instead of drawing from all. */
  only?: string[];
  /** Stop after this many faults (default: as many as the minutes allow). */
  rounds?: number;
  say?: (line: string) => void;
}

export interface ScheduleResult extends CheckResult {
  seed: number;
  faults: string[];
}

export async function runSchedule(
  stack: ComposeStack,
  o: ScheduleOptions,
): Promise<ScheduleResult> {
  const say = o.say ?? (() => undefined);
  const random = seeded(o.seed);
  const pick = (n: number) => Math.floor(random() * n);
  const nemesis = new Nemesis(stack);
  const unguard = nemesis.guard();
  const sampler = new NodeSampler(stack);
  // cancelling as it goes: a run of any length keeps booking (the slots come free again)
  const run = await BookingRun.start(stack.gateway, o.clients ?? 4, { pauseMs: 20, churn: 40 });
  const t0 = performance.now();
  const faults: string[] = [];
  const pool = o.only?.length ? o.only.flatMap((n) => FAULTS.filter((f) => f.name === n)) : FAULTS;
  if (!pool.length) throw new Error(`no fault named ${o.only?.join(', ')}`);
  const clock = () => `+${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s`;
  try {
    while (
      performance.now() - t0 < o.minutes * 60_000 &&
      faults.length < (o.rounds ?? Number.POSITIVE_INFINITY)
    ) {
      // named faults play in the order given; otherwise drawn
      const fault = o.only?.length ? pool[faults.length % pool.length] : pool[pick(pool.length)];
      const holdMs = 5_000 + pick(15_000);
      const did = await fault.apply(stack, nemesis, pick);
      faults.push(`${fault.name}: ${did}, ${(holdMs / 1000).toFixed(0)} s`);
      say(`${clock()}  ${did} for ${(holdMs / 1000).toFixed(0)} s`);
      await sleep(holdMs);
      await nemesis.healAll();
      say(`${clock()}  healed`);
      const done = await settle(stack);
      say(`${clock()}  settled${done ? `: ${done}` : ''}`);
      await sleep(2_000 + pick(3_000));
    }
  } finally {
    await nemesis.healAll();
    unguard();
    await run.stop();
  }
  const nodeSamples = await sampler.stop();
  const history = historyOf(
    run.load.samples,
    (n) => run.keyOf(n),
    (n) => run.cancelOf(n),
  );
  // the record first: an hour's run is worth keeping even if a check then fails to run
  const record = path.join(REPO_ROOT, '.stack', 'partitions', `run-${o.seed}-${Date.now()}.json`);
  fs.mkdirSync(path.dirname(record), { recursive: true });
  fs.writeFileSync(record, JSON.stringify({ seed: o.seed, faults, history, nodeSamples }));
  say(`history (${history.length} requests), node looks and faults kept in ${record}`);
  await waitConverged(stack, history);
  const result = await check(stack, history, nodeSamples);
  // the nights it booked are freed for the next run; bounded, so the result is never held back
  const freed = await Promise.race([
    run.finish().then(() => true),
    sleep(120_000).then(() => false),
  ]);
  if (!freed) say('cancelling the run’s bookings took over 120 s: left to finish on their own');
  return { ...result, seed: o.seed, faults };
}
