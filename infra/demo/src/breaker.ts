/**
 * `npm run demo:breaker [-- --quick]`: circuit breakers and fallbacks
 * (docs/patterns/circuit-breaker.md), the seed's numbers on the live stack.
 * Both recommendation instances are frozen (SIGSTOP) under listings load:
 * reservation's breakers open after three timeouts per instance and the
 * listings are served in the default order, marked `"ranking": "fallback"`
 * with the reason. The stack has no switch to turn breakers off, so the seed's
 * worker without one runs in this process: one worker calling the same frozen
 * instances over TCP with only the 300 ms timeout; beside it the same worker
 * through a breaker (stayline's DependencyClient, as reservation uses it). Both
 * keep the frozen addresses (a static list), so only the breaker differs.
 * Then SIGCONT: reservation's breakers let one trial call through after their
 * reset time (half-open) and close. Meanwhile payment, which is essential,
 * hangs (a 5 s latency flag, the seed's lab): bookings get a fast 503 with
 * Retry-After instead of waiting, and are confirmed again once it recovers.
 * The listings are alice's and the bookings alice's and bob's: the demo logs
 * them in through the gateway and sends their tokens on every request.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RecommendationPatterns } from '@stayline/contracts';
import { StaticResolver } from '@stayline/discovery';
import { BreakerState } from '@stayline/resilience';
import {
  Component,
  prometheusAlerts,
  type PrometheusAlert,
  scrapeMetric,
} from '@stayline/stack-kit';
import { createLogger } from '@stayline/observability';
import { DependencyClient, MessageAuth } from '@stayline/service-runtime';
import { latency, Load, Sample } from '@stayline/fault-kit';
import {
  checkAccepted,
  clearFlag,
  Demo,
  DemoUsers,
  followLogs,
  formatClock,
  instancesOf,
  runDemo,
  setFlag,
} from './index';
import { Bookings } from './lib/bookings';
import { timedLine } from './lib/instance-log';
import { stackRegistry } from './lib/registry';
import { TcpCaller } from './lib/tcp-caller';
import { fetchTrace, traceLines, traceViewer, type TraceSpan } from './lib/traces';

/** The seed's timeout, and reservation's default towards recommendation. */
const TIMEOUT_MS = 300;
/** The seed's lab: the callee answers 5 s late. */
const HANG_MS = 5_000;
/** Each load worker pauses this long between calls: at most the seed's 50 calls/s. */
const PAUSE_MS = 20;
const RANK = {
  pattern: RecommendationPatterns.rank,
  data: { userId: 'alice', candidates: [{ id: 'jeju-03', city: 'Jeju', pricePerNight: 120 }] },
};
/** resilience_breaker_state: 0 closed, 1 open, 2 half-open. */
const OPEN = 1;

/** Calls per second and per worker, and the p99, of calls that ended within a window. */
function rate(samples: Array<{ at: number; ms: number }>, from: number, to: number, workers = 1) {
  const inside = samples.filter((s) => s.at >= from && s.at < to);
  return {
    perWorker: inside.length / workers / ((to - from) / 1000),
    p99: latency(inside as Sample[]).p99,
  };
}

/**
 * The state of the breakers a reservation instance keeps for the instances of
 * `dependency` that run now (it also keeps those of instances gone since,
 * e.g. the ones demo:discovery started and stopped).
 */
async function breakerStates(d: Demo, c: Component, dependency: string): Promise<number[]> {
  const live = new Set(instancesOf(d.stack, dependency).map((x) => x.name));
  return (await scrapeMetric(c, 'resilience_breaker_state'))
    .filter((s) => s.labels.dependency === dependency && live.has(s.labels.endpoint))
    .map((s) => s.value);
}

void runDemo(
  { name: 'breaker', title: 'a frozen dependency: fail fast, fall back, heal by itself' },
  async (d) => {
    const recs = instancesOf(d.stack, 'recommendation');
    const callers = instancesOf(d.stack, 'reservation');
    const resetMs = Number(callers[0]?.spec.env?.BREAKER_RESET_MS ?? 20_000);
    const phaseMs = d.pick(8_000, 3_000);
    const users = await DemoUsers.login(d, ['alice', 'bob']);
    const allCallers = async (dependency: string, ok: (states: number[]) => boolean) =>
      (await Promise.all(callers.map((c) => breakerStates(d, c, dependency)))).every(ok);

    d.step("reservation's own account of its breakers (its log), as it happens");
    const stopFollowing = followLogs(callers, (name, line) => {
      const e = timedLine(line);
      if (e && /^breaker (recommendation|payment)\//.test(e.msg))
        d.say(`  [${name} ${formatClock(d.now() - (performance.now() - e.at)).trim()}] ${e.msg}`);
    });
    d.onCleanup('stop following the logs', stopFollowing);
    const registry = stackRegistry(d.stack);
    d.onCleanup('close the registry connection', () => registry.close());
    d.onCleanup(
      'stop watching',
      await registry.watch('recommendation', (_list, change) => {
        if (change.kind === 'added') d.say(`  [registry] ${change.instance.id} added`);
        if (change.kind === 'removed')
          d.say(`  [registry] ${change.id} removed (${change.reason})`);
      }),
    );

    d.step(`alice's listings load through the gateway, and the seed's worker in this process`);
    const listings = Load.start({
      workers: 4,
      pauseMs: PAUSE_MS,
      keepReplies: true,
      request: () => ({ url: `${d.gateway}/api/listings?limit=10`, headers: users.headers() }),
    });
    d.onCleanup('stop the listings load', () => listings.stop());
    // the seed's worker: the frozen addresses stay listed, as in a config file
    const frozenList = () =>
      new StaticResolver({
        services: { recommendation: recs.map((c) => `${c.host}:${c.ports.tcp}`) },
      });
    const noBreaker = await TcpCaller.start({
      resolver: frozenList(),
      service: 'recommendation',
      timeoutMs: TIMEOUT_MS,
      pauseMs: PAUSE_MS,
      ...RANK,
    });
    d.onCleanup('stop the worker without a breaker', () => noBreaker.stop());
    const guarded = await DependencyClient.connect({
      resolver: frozenList(),
      service: 'recommendation',
      // signed as reservation, the one caller rank accepts
      messageAuth: MessageAuth.signer('reservation'),
      logger: createLogger({ service: 'demo', level: 'silent' }),
      policy: {
        name: 'recommendation',
        essential: false,
        timeoutMs: TIMEOUT_MS,
        breaker: { kind: 'consecutive', threshold: 3 },
        resetTimeoutMs: resetMs,
        retry: { maxAttempts: 1 },
      },
    });
    const withBreaker: Array<{ at: number; ms: number }> = [];
    let working = true;
    const worker = (async () => {
      while (working) {
        const t = performance.now();
        await guarded.sendOr(RANK.pattern, RANK.data, { idempotent: true }, () => null);
        withBreaker.push({ at: performance.now(), ms: performance.now() - t });
        await sleep(PAUSE_MS);
      }
    })();
    d.onCleanup('stop the worker with a breaker', async () => {
      working = false;
      await worker;
      await guarded.close();
    });
    d.say(
      `each worker (4 on listings, 1 + 1 here) pauses ${PAUSE_MS} ms between calls: at most 50 calls/s, the seed's healthy worker`,
    );
    const healthyFrom = performance.now();
    await sleep(phaseMs);
    const healthyTo = performance.now();

    // ---- recommendation frozen
    d.step(
      `SIGSTOP ${recs.map((c) => c.name).join(' and ')}: they accept connections and never answer`,
    );
    for (const c of recs) d.stack.kill(c.name, 'SIGSTOP');
    d.onCleanup('continue recommendation', () =>
      recs.forEach((c) => d.stack.kill(c.name, 'SIGCONT')),
    );
    const openMs = await d.until(
      "every reservation instance's recommendation breakers to open",
      () => allCallers('recommendation', (s) => s.length > 0 && s.every((v) => v === OPEN)),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    d.say(
      `all of reservation's recommendation breakers open ${(openMs / 1000).toFixed(2)} s after SIGSTOP`,
    );
    // one worker needs 3 timeouts per frozen instance before its own breaker is open
    await d.until(
      "the worker's breaker here to open",
      () => guarded.policy.state === BreakerState.Open,
      {
        timeoutMs: 10_000,
      },
    );
    const frozenFrom = performance.now();
    await sleep(phaseMs);
    const frozenTo = performance.now();
    const frozen = listings.between(frozenFrom, frozenTo);
    const fallback = frozen.filter(
      (s) => s.reply?.json<{ ranking?: string }>().ranking === 'fallback',
    );
    const reason = fallback[0]?.reply?.json<{ reason?: string }>().reason;
    d.say(
      `listings while frozen: ${fallback.length} of ${frozen.length} answered with "ranking": "fallback", e.g. "reason": "${reason}"`,
    );
    const seed = {
      none: {
        healthy: rate(noBreaker.calls, healthyFrom, healthyTo),
        frozen: rate(noBreaker.calls, frozenFrom, frozenTo),
      },
      breaker: {
        healthy: rate(withBreaker, healthyFrom, healthyTo),
        frozen: rate(withBreaker, frozenFrom, frozenTo),
      },
      listings: {
        healthy: rate(listings.samples, healthyFrom, healthyTo, 4),
        frozen: rate(listings.samples, frozenFrom, frozenTo, 4),
      },
    };
    const perWorker = (r: { perWorker: number }) => r.perWorker.toFixed(1);
    d.say(
      `calls/s per worker, healthy -> frozen: no breaker ${perWorker(seed.none.healthy)} -> ${perWorker(seed.none.frozen)}; breaker ${perWorker(seed.breaker.healthy)} -> ${perWorker(seed.breaker.frozen)}; listings ${perWorker(seed.listings.healthy)} -> ${perWorker(seed.listings.frozen)}`,
    );

    // ---- thaw, and meanwhile payment hangs
    d.step(
      `SIGCONT recommendation: its breakers stay open until the reset (${resetMs / 1000} s), then one trial call each`,
    );
    const contAt = performance.now();
    for (const c of recs) d.stack.kill(c.name, 'SIGCONT');

    d.step(`meanwhile payment hangs: flag fault.payment.charge.latencyMs = ${HANG_MS}`);
    const bookings = await Bookings.forStack(d.gateway, users);
    await setFlag(d.stack, 'fault.payment.charge.latencyMs', { kind: 'number', value: HANG_MS });
    d.onCleanup('clear the payment latency flag', () =>
      clearFlag(d.stack, 'fault.payment.charge.latencyMs'),
    );
    const hangAt = performance.now();
    const booking = bookings.load(d, { workers: 4, pauseMs: 50 });
    const payOpenMs = await d.until(
      "every reservation instance's payment breakers to open",
      () => allCallers('payment', (s) => s.length > 0 && s.every((v) => v === OPEN)),
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    d.say(
      `payment breakers open on every reservation instance ${(payOpenMs / 1000).toFixed(2)} s after the flag`,
    );
    const fastFrom = performance.now();
    await sleep(phaseMs);
    const fastTo = performance.now();
    const beforeOpen = booking.between(hangAt, fastFrom);
    // the bookings sent once every breaker was open (not those still waiting from before)
    // sent once every breaker was open; a night booked by an earlier run answers 409 before payment
    const fast = booking
      .between(fastFrom, fastTo)
      .filter((s) => s.at - s.ms >= fastFrom && s.status !== 409);
    const unavailable = fast.filter((s) => s.status === 503);
    const retryAfter = unavailable
      .map((s) => Number(s.reply?.headers['retry-after']))
      .filter(Number.isFinite);
    d.say(
      `before the breakers opened: ${beforeOpen.length} bookings waited up to ${(latency(beforeOpen).max / 1000).toFixed(2)} s (the ${1000} ms payment timeout, tried on each instance)`,
    );
    const others = fast
      .filter((s) => s.status !== 503)
      .map((s) => `${s.status || s.error} in ${s.ms.toFixed(0)} ms`);
    d.say(
      `then: ${unavailable.length} of ${fast.length} needing payment answered 503 in p50 ${latency(unavailable).p50.toFixed(1)} ms / p99 ${latency(unavailable).p99.toFixed(1)} ms, Retry-After ${Math.min(...retryAfter)}-${Math.max(...retryAfter)} s` +
        (others.length ? `; the others: ${others.join(', ')}` : ''),
    );

    // ---- what an operator sees: the alert in Prometheus, the breaker in a booking's trace
    const dashboard = traceViewer(d.stack);
    const requestIdOf = (s: { reply?: { headers: Record<string, unknown> } }) =>
      String(s.reply?.headers['x-request-id'] ?? '');
    const withEvent = async (samples: typeof fast, event: string) => {
      if (!dashboard) return undefined;
      for (const s of samples.slice(-40)) {
        const spans = await fetchTrace(dashboard, requestIdOf(s));
        if (spans?.some((x) => x.events.some((e) => e.name === event)))
          return { id: requestIdOf(s), spans };
      }
      return undefined;
    };
    let opened: { id: string; spans: TraceSpan[] } | undefined;
    let refused: { id: string; spans: TraceSpan[] } | undefined;
    if (dashboard) {
      d.step("a booking's trace says why it was fast (the dashboard keeps the recent traces)");
      await sleep(2_500); // each service sends its spans every 2 s
      opened = await withEvent(beforeOpen, 'breaker.transition');
      refused = await withEvent(unavailable, 'breaker.skipped');
      const payment = (x: TraceSpan) => /^payment /.test(x.name) || x.service === 'payment';
      for (const [what, t] of [
        ['the booking whose timed-out attempt opened a breaker', opened],
        ['a booking refused at once by the open breakers (503)', refused],
      ] as const) {
        if (!t) continue;
        d.say(`${what}: ${d.gateway}/dashboard/traces?id=${t.id}`);
        for (const line of traceLines(t.spans, payment)) d.say(`  ${line}`);
      }
    }
    let alert: PrometheusAlert | undefined;
    const prometheus = d.stack.byKind('agent').find((c) => c.meta?.service === 'prometheus');
    if (prometheus) {
      d.step(
        'Prometheus: StaylineBreakerOpen fires once a breaker has not closed for 30 s (payment still hangs)',
      );
      const firingMs = await d.until(
        'StaylineBreakerOpen to fire for reservation -> payment',
        async () => {
          alert = (await prometheusAlerts(d.stack).catch(() => [])).find(
            (a) =>
              a.labels['alertname'] === 'StaylineBreakerOpen' &&
              a.labels['dependency'] === 'payment' &&
              a.state === 'firing',
          );
          return !!alert;
        },
        { timeoutMs: 120_000, intervalMs: 1_000 },
      );
      d.say(
        `firing ${((performance.now() - hangAt) / 1000).toFixed(0)} s after the flag (${(firingMs / 1000).toFixed(0)} s of waiting here): ${alert?.annotations['summary']}`,
      );
      d.say(`  http://${prometheus.host}:${prometheus.port}/alerts`);
    }

    await clearFlag(d.stack, 'fault.payment.charge.latencyMs');
    const clearedAt = performance.now();
    d.say('flag cleared: payment answers at once again; its breakers wait for their reset');

    // ---- healing
    d.step(
      'heal: trial calls after the reset, breakers closed, personalized listings, confirmed bookings',
    );
    const closed = (dependency: string) =>
      d.until(
        `${dependency} breakers closed on every reservation instance`,
        () => allCallers(dependency, (s) => s.every((v) => v === 0)),
        { timeoutMs: resetMs * 1.1 + 20_000, intervalMs: 200 },
      );
    await closed('recommendation');
    const recClosedAt = performance.now();
    d.say(
      `recommendation breakers closed ${((recClosedAt - contAt) / 1000).toFixed(1)} s after SIGCONT`,
    );
    await closed('payment');
    const payClosedAt = performance.now();
    d.say(
      `payment breakers closed ${((payClosedAt - clearedAt) / 1000).toFixed(1)} s after the flag was cleared`,
    );
    const personalized = listings
      .between(contAt)
      .find((s) => s.reply?.json<{ ranking?: string }>().ranking === 'personalized');
    const confirmed = booking.between(clearedAt).find((s) => s.status === 201);
    await sleep(500);
    await Promise.all([listings.stop(), booking.stop()]);

    const halfOpens = (
      await Promise.all(callers.map((c) => scrapeMetric(c, 'resilience_breaker_transitions_total')))
    )
      .flat()
      .filter((s) => s.labels.to === 'half-open')
      .reduce((n, s) => n + s.value, 0);
    checkAccepted(d, users, listings.samples, booking.samples);
    const failedListings = listings.errors();
    d.check(
      'no listing request failed, whatever recommendation did',
      failedListings.length === 0,
      `${failedListings.length} of ${listings.samples.length}`,
    );
    d.check(
      "the seed's worker without a breaker drops to about 3 calls/s",
      seed.none.frozen.perWorker < 5,
      `${perWorker(seed.none.healthy)} -> ${perWorker(seed.none.frozen)} calls/s`,
    );
    d.check(
      'the same worker with a breaker keeps its pace',
      seed.breaker.frozen.perWorker > 0.7 * seed.breaker.healthy.perWorker,
      `${perWorker(seed.breaker.healthy)} -> ${perWorker(seed.breaker.frozen)} calls/s`,
    );
    d.check(
      'listings fell back to the default order, marked, with the reason',
      fallback.length === frozen.length && frozen.length > 0 && !!reason,
    );
    d.check(
      'after SIGCONT: trial calls (half-open), breakers closed, personalized again',
      halfOpens > 0 && !!personalized,
      `${halfOpens} half-open transitions`,
    );
    d.check(
      'bookings while payment hangs: 503 with Retry-After, sooner than one payment timeout',
      unavailable.length === fast.length &&
        unavailable.length > 0 &&
        retryAfter.length === unavailable.length &&
        latency(unavailable).p99 < 1_000,
      `${unavailable.length} of ${fast.length}, p99 ${latency(unavailable).p99.toFixed(1)} ms` +
        (others.length ? `; the others: ${others.join(', ')}` : ''),
    );
    d.check(
      'no booking waited for the hanging payment beyond its timeouts',
      latency(booking.samples).max < 3_000,
      `max ${latency(booking.samples).max.toFixed(0)} ms`,
    );
    d.check('bookings confirmed again once payment recovered', !!confirmed);
    if (dashboard)
      d.check(
        "a booking's trace shows the breaker opening on its attempt, another's the open breakers skipped",
        !!opened && !!refused,
        `${opened ? 'opened' : 'no trace with breaker.transition'}, ${refused ? 'skipped' : 'no trace with breaker.skipped'}`,
      );
    if (prometheus)
      d.check('Prometheus fired StaylineBreakerOpen for reservation -> payment', !!alert);

    const ms = (v: number) => v.toFixed(v < 10 ? 2 : 0);
    d.figure(
      'calls/s per worker, healthy -> frozen: no breaker (timeout only)',
      `${perWorker(seed.none.healthy)} -> ${perWorker(seed.none.frozen)}`,
      '',
      {
        anchor: 'the seed: 50 -> 3 calls/s',
      },
    );
    d.figure(
      'calls/s per worker, healthy -> frozen: breaker',
      `${perWorker(seed.breaker.healthy)} -> ${perWorker(seed.breaker.frozen)}`,
      '',
      {
        goal: 'kept (>= 0.9 x)',
        anchor: 'breaker.unrelated.throughput_ratio 1.14 (README)',
      },
    );
    d.figure(
      'listings/s per worker via the gateway, healthy -> frozen',
      `${perWorker(seed.listings.healthy)} -> ${perWorker(seed.listings.frozen)}`,
      '',
    );
    d.figure(
      'p99 while frozen: no breaker / breaker',
      `${ms(seed.none.frozen.p99)} / ${ms(seed.breaker.frozen.p99)}`,
      'ms',
      {
        goal: 'breaker < 2',
        anchor: 'breaker.open.p99 0.45 ms; no breaker 301 / 309 ms',
      },
    );
    d.figure(
      'listings p99 via the gateway, healthy / frozen',
      `${ms(seed.listings.healthy.p99)} / ${ms(seed.listings.frozen.p99)}`,
      'ms',
    );
    d.figure('SIGSTOP -> every recommendation breaker open', openMs / 1000, 's', {
      anchor: '3 timeouts of 300 ms per instance',
    });
    d.figure(
      'listings served with the fallback while frozen',
      fallback.length,
      `of ${frozen.length}`,
      { goal: 'all, none failed' },
    );
    const reset = `reset ${resetMs / 1000} s ± 10 % from opening`;
    d.figure('SIGCONT -> recommendation breakers closed', (recClosedAt - contAt) / 1000, 's', {
      anchor: `${reset}; the seed's lab: 20 s`,
    });
    d.figure('payment back -> payment breakers closed', (payClosedAt - clearedAt) / 1000, 's', {
      anchor: reset,
    });
    d.figure(
      'bookings while payment hangs, before the breakers opened: max wait',
      latency(beforeOpen).max / 1000,
      's',
      { anchor: `payment timeout 1 s per attempt; the hang ${HANG_MS / 1000} s` },
    );
    d.figure(
      'bookings while payment hangs, breakers open: 503 p50 / p99',
      `${ms(latency(unavailable).p50)} / ${ms(latency(unavailable).p99)}`,
      'ms',
      { goal: 'fast, not a hang' },
    );
    d.figure(
      'Retry-After on those 503s',
      `${Math.min(...retryAfter)}-${Math.max(...retryAfter)}`,
      's',
      { anchor: "the breaker's remaining open time" },
    );
  },
);
