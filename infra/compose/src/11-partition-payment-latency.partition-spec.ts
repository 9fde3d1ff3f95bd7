/**
 * Partition 7: 300 ms ± 100 ms of latency on every payment container (every
 * byte each one sends, to reservation and to its datastores, held by the
 * nemesis' delaying relay: `tc netem` is not available on this kernel) under
 * bookings through the gateway. Timeouts and breakers keep the booking p99
 * bounded (a slow charge is answered, or refused with a 503, within the
 * bound, never left hanging); nothing is charged twice; the checker finds
 * nothing lost or doubled once the latency is healed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from '@stayline/fault-kit';
import { check, historyOf, NodeSampler, summary, waitConverged } from './lib/checker';
import { ComposeStack } from './lib/compose-stack';
import { BookingRun } from './lib/gateway';
import { Nemesis } from './lib/nemesis';
import { healAfterAll } from './lib/scenario';

jest.setTimeout(300_000);

const stack = ComposeStack.fromEnv();
const nemesis = new Nemesis(stack);
const PAYMENTS = ['payment-1', 'payment-2'];

/** Booking p99 while every payment is slow: the reservation's payment timeout plus the gateway hop, with slack. */
const P99_BOUND_MS = 5_000;

describe('partition: 300 ms ± 100 ms of latency on every payment container', () => {
  let run: BookingRun | undefined;
  let sampler: NodeSampler | undefined;
  healAfterAll(
    nemesis,
    () => sampler?.stop(),
    () => run?.finish(),
  );

  it('keeps the booking p99 bounded, charges nothing twice, loses nothing', async () => {
    sampler = new NodeSampler(stack);
    run = await BookingRun.start(stack.gateway, 4, 20);
    await sleep(3_000);
    const before = run.load.samples.filter((s) => s.status === 201).map((s) => s.ms);

    for (const [i, p] of PAYMENTS.entries())
      await nemesis.delay(p, { delayMs: 300, jitterMs: 100, seed: 20261205 + i });
    const slowFrom = performance.now();
    await sleep(30_000);
    const slowTo = performance.now();
    await nemesis.healAll();

    const during = run.load.between(slowFrom, slowTo);
    const ms = during.map((s) => s.ms);
    const statuses = new Map<number, number>();
    for (const s of during) statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
    console.log(
      `bookings while every payment was slow: ${during.length}, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ` +
        `p50 ${Math.round(percentile(ms, 50))} ms, p99 ${Math.round(percentile(ms, 99))} ms, max ${Math.round(Math.max(...ms))} ms ` +
        `(before: p50 ${Math.round(percentile(before, 50))} ms)`,
    );
    await sleep(5_000);
    await run.stop();

    const history = historyOf(run.load.samples, (n) => (run as BookingRun).keyOf(n));
    await waitConverged(stack, history, 60_000);
    const result = await check(stack, history, await (sampler as NodeSampler).stop());
    console.log(`checker:\n${summary(result)}`);

    expect(during.length).toBeGreaterThan(10);
    // the fault was felt (the relay worked: slow charges, or refused fast by timeouts
    // and breakers), and the booking p99 stayed bounded. Measured once: 17 of 373
    // accepted (202), 356 refused with 503, p50 153 ms, p99 2.1 s: the payment
    // timeout budget is tighter than 300 ms per hop allows (see the failover page)
    expect(during.some((s) => s.status !== 201)).toBe(true);
    expect(percentile(ms, 99)).toBeLessThan(P99_BOUND_MS);
    // slow, or refused fast: never an answerless request
    expect(during.filter((s) => s.status === 0)).toEqual([]);
    expect(result.violations).toEqual([]);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
  });
});
