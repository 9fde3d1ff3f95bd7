/**
 * `npm run demo:client-lb [-- --quick]`: client-side load balancing
 * (docs/patterns/load-balancing.md, "Round robin vs power of two choices").
 * Bookings through the gateway make each reservation instance charge payment
 * over TCP, balanced by its own client. One payment instance is slowed by a
 * fault flag. reservation reads its strategy (`LB_STRATEGY`) only at start, so
 * one reservation instance is started again with power of two choices while
 * the other keeps round robin: both callers then serve the same bookings, at
 * the same time, against the same two real payment instances, and the answer
 * header `X-Instance-Id` says which caller (strategy) served each booking. Which
 * payment instance charged it is read from the payment instances' own logs.
 * The bookings are alice's and bob's, in turn, each sent with its user's token.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { metricSum, waitForGatewayUpstreams } from '@stayline/stack-kit';
import { latency, Sample } from '@stayline/fault-kit';
import { checkAccepted, clearFlag, DemoUsers, instancesOf, runDemo, setFlag } from './index';
import { restartWithEnv } from './lib/admin';
import { Bookings, reservationIdOf } from './lib/bookings';
import { chargedReservations } from './lib/instance-log';

/**
 * How much slower the slowed payment instance charges. The quick run (the e2e
 * suite, a loaded machine) slows it more: there a booking spends most of its
 * time in MariaDB, so with +150 ms each caller rarely has a payment call
 * outstanding when it picks, and power of two has little to see in a few
 * dozen bookings.
 */
const SLOW_MS = { full: 150, quick: 300 };
const WORKERS = 8;

void runDemo(
  {
    name: 'client-lb',
    title: 'round robin against power of two choices, one payment instance slowed',
  },
  async (d) => {
    const [rrCaller, p2cCaller] = instancesOf(d.stack, 'reservation').map((c) => c.name);
    const [slow, fast] = instancesOf(d.stack, 'payment').map((c) => c.name);
    if (!rrCaller || !p2cCaller || !slow || !fast)
      throw new Error('the stack runs fewer than 2 reservation or payment instances');
    const phaseMs = d.pick(12_000, 5_000);
    const slowMs = d.pick(SLOW_MS.full, SLOW_MS.quick);
    const users = await DemoUsers.login(d, ['alice', 'bob']);
    const bookings = await Bookings.forStack(d.gateway, users);

    d.step(
      `${p2cCaller} started again with LB_STRATEGY=power-of-two (${rrCaller} keeps round robin)`,
    );
    const restartedAt = d.now();
    const previous = await restartWithEnv(d.stack, p2cCaller, { LB_STRATEGY: 'power-of-two' });
    d.onCleanup(`start ${p2cCaller} again with its own strategy`, async () => {
      await restartWithEnv(d.stack, p2cCaller, previous);
      await waitForGatewayUpstreams(d.stack, { reservation: 2 });
    });
    await waitForGatewayUpstreams(d.stack, { reservation: 2 });
    d.say(
      `${p2cCaller} listening and routed by the gateway again after ${((d.now() - restartedAt) / 1000).toFixed(1)} s; ` +
        'each caller counts only its own outstanding calls',
    );

    // the bookings one caller served, and which payment instance charged each (payment's own log)
    const split = (samples: Sample[], caller: string) => {
      const mine = samples.filter((s) => s.instance === caller && s.status === 201);
      const bySlow = chargedReservations(d.stack, slow);
      const byFast = chargedReservations(d.stack, fast);
      const ids = mine.map(reservationIdOf).filter((id): id is string => !!id);
      const onSlow = ids.filter((id) => bySlow.has(id)).length;
      const onFast = ids.filter((id) => byFast.has(id)).length;
      const charged = onSlow + onFast;
      return {
        caller,
        charged,
        slowShare: charged ? (100 * onSlow) / charged : NaN,
        ...latency(mine),
      };
    };
    // each caller's own histogram of its payment calls (the call alone, not the whole booking)
    const paymentCallTotals = async () => {
      const totals: Record<string, { sum: number; count: number }> = {};
      for (const c of [rrCaller, p2cCaller]) {
        const component = d.stack.component(c);
        const metric = (suffix: string) =>
          metricSum(component, `resilience_call_duration_seconds_${suffix}`, {
            dependency: 'payment',
          });
        totals[c] = { sum: await metric('sum'), count: await metric('count') };
      }
      return totals;
    };

    let offset = 0;
    const phase = async (title: string) => {
      d.step(title);
      const before = await paymentCallTotals();
      const load = bookings.load(d, { workers: WORKERS, from: offset });
      await sleep(phaseMs);
      await load.stop();
      offset += load.samples.length + WORKERS;
      const after = await paymentCallTotals();
      const callMs = (c: string) =>
        (1000 * (after[c].sum - before[c].sum)) / Math.max(1, after[c].count - before[c].count);
      const result = {
        rr: { ...split(load.samples, rrCaller), callMs: callMs(rrCaller) },
        p2c: { ...split(load.samples, p2cCaller), callMs: callMs(p2cCaller) },
        errors: load.errors(),
        all: load.samples,
      };
      for (const [strategy, s] of [
        ['round robin   ', result.rr],
        ['power of two  ', result.p2c],
      ] as const) {
        d.say(
          `${strategy} ${s.caller}: ${s.charged} charged, ${slow} ${s.slowShare.toFixed(0)} % / ${fast} ${(100 - s.slowShare).toFixed(0)} %, ` +
            `payment call mean ${s.callMs.toFixed(0)} ms; booking p50 ${s.p50.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms`,
        );
      }
      return result;
    };

    // a restarted Node process is slow until its code is compiled: warm it before measuring
    const warm = bookings.load(d, { workers: WORKERS });
    await sleep(d.pick(3_000, 1_500));
    await warm.stop();
    offset = warm.samples.length + WORKERS;
    d.say(`warm-up: ${warm.samples.length} bookings, not counted`);

    const healthy = await phase(
      `bookings through the gateway, ${WORKERS} workers, both payment instances healthy`,
    );

    await setFlag(d.stack, `fault.${slow}.charge.latencyMs`, { kind: 'number', value: slowMs });
    d.onCleanup(`clear the latency flag of ${slow}`, () =>
      clearFlag(d.stack, `fault.${slow}.charge.latencyMs`),
    );
    d.say(
      `flag fault.${slow}.charge.latencyMs = ${slowMs}: every charge on ${slow} now takes ${slowMs} ms more`,
    );
    const slowed = await phase(`the same bookings with ${slow} slowed`);
    await clearFlag(d.stack, `fault.${slow}.charge.latencyMs`);
    d.say(`flag cleared: ${slow} is as fast as ${fast} again`);

    checkAccepted(d, users, warm.samples, healthy.all, slowed.all);
    const failed = [...healthy.errors, ...slowed.errors];
    d.check(
      'every booking was answered (no 5xx, no lost connection)',
      failed.length === 0,
      `${failed.length} of ${healthy.all.length + slowed.all.length}`,
    );
    d.check(
      'both callers served bookings in both phases',
      [healthy.rr, healthy.p2c, slowed.rr, slowed.p2c].every((s) => s.charged >= 10),
    );
    d.check(
      `round robin keeps sending about half to the slow ${slow}`,
      slowed.rr.slowShare > 35 && slowed.rr.slowShare < 65,
      `${slowed.rr.slowShare.toFixed(0)} %`,
    );
    d.check(
      `power of two choices moves calls away from the slow ${slow}`,
      slowed.p2c.slowShare < slowed.rr.slowShare - 10,
      `${slowed.p2c.slowShare.toFixed(0)} % against round robin's ${slowed.rr.slowShare.toFixed(0)} %`,
    );

    // one figure per measure: round robin's value next to power of two's
    type Side = Awaited<ReturnType<typeof phase>>['rr'];
    const sideBySide = (
      name: string,
      measured: { rr: Side; p2c: Side },
      value: (s: Side) => number,
      unit: string,
      o: { goal?: string; anchor?: string } = {},
    ) =>
      d.figure(
        `${name}: round robin / power of two`,
        `${value(measured.rr).toFixed(0)} / ${value(measured.p2c).toFixed(0)}`,
        unit,
        o,
      );
    d.figure(
      'bookings charged (healthy / slowed phase)',
      `${healthy.rr.charged + healthy.p2c.charged} / ${slowed.rr.charged + slowed.p2c.charged}`,
      '',
    );
    sideBySide(`share to ${slow}, healthy`, healthy, (s) => s.slowShare, '%', { goal: '50 / 50' });
    sideBySide(`share to ${slow}, slowed`, slowed, (s) => s.slowShare, '%', {
      goal: '~50 / well under',
      anchor: 'e2e: > 75 % to the fast one (8 callers, +30 ms)',
    });
    sideBySide('booking p50, slowed', slowed, (s) => s.p50, 'ms');
    sideBySide('payment call mean, healthy', healthy, (s) => s.callMs, 'ms');
    sideBySide('payment call mean, slowed', slowed, (s) => s.callMs, 'ms', {
      goal: 'power of two lower',
      anchor: `share to the slow one x ${slowMs} ms more`,
    });
    sideBySide('booking p99, slowed', slowed, (s) => s.p99, 'ms', {
      anchor: `a call on the slow one pays +${slowMs} ms either way`,
    });
    sideBySide('booking p99, healthy', healthy, (s) => s.p99, 'ms', {
      anchor: 'the TCP call alone: lb.call.p99 1.8 ms (README); a booking also commits to MariaDB',
    });
  },
);
