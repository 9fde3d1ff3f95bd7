/**
 * The knee: the highest arrival rate a path holds at, stayline's bookings and
 * listings and a baseline's bookings, in one run on one stack. The whole stack
 * as `npm run stack:up` runs it (MariaDB x3 semi-sync, Redis x2 + 3 Sentinels,
 * etcd x3, the 2 failover agents, 2 instances of every service, the gateway
 * sync, the dashboard, nginx with LOAD_GATEWAY_LIMITS so that its per-address
 * and per-token limits do not cut the load), and the baseline
 * (bench/src/baseline/server.ts: the same booking by one plain Node process
 * with mysql2, one transaction) behind the same nginx, in a server block of
 * its own (stack-kit addKitServer).
 * Each figure is a step search (tools/load knee.ts): open-model steps of
 * STEP_S seconds at a constant rate (arrival n due at start + n / rate, latency
 * from that intended time: coordinated omission corrected, HdrHistogram),
 * doubling from the start rate while a step holds, then bisecting to within
 * 10 %. A step holds when p99 < 200 ms and every arrival was answered 2xx (a
 * booking 201: each is a new one-night stay with its own Idempotency-Key, by
 * one of USERS users whose tokens were issued before the clock starts; a
 * listing page `GET /api/listings?limit=20`, every other one for a city).
 * Stayline's and the baseline's booking searches take turns, step by step,
 * so that both see the shared machine alike. After each step the next waits
 * until the target answers a few requests in a row within the bound again
 * (what the step left queued has been served), and after a booking step its
 * stays are cancelled in SQL (their nights freed for later steps) and the
 * outbox is left to drain: no step pays for the one before.
 * - gateway.bookings.knee, gateway.listings.knee, baseline.bookings.knee (req/s);
 * - gateway.bookings.baseline_ratio: stayline's booking knee / the baseline's,
 *   the price of the patterns on this machine (what differs: the top of
 *   bench/src/baseline/server.ts).
 * The load generator is this process, on the same 2 cores: it costs both
 * targets alike. Shared with other work, absolute knees are noisy (each
 * anchor gives the load average before and after its search); the ratio, of
 * steps taken in turns, less so.
 *   node scripts/run.cjs bench/src/scenarios/knee.ts          (prints the figures as JSON)
 *   npm run bench -- --only=knee
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  findKnee,
  type HttpCall,
  HttpSender,
  type KneeResult,
  openLoadProbe,
  stepLine,
  verdict,
} from '@stayline/load';
import { baselineErrors, checkSameAnswers, startBaseline } from '../baseline/start';
import { booking, freeNights, startLoadStack, userHeaders } from '../booking-load';
import { round, type Figure, runWhenMain } from '../figure';

const P99_LIMIT_MS = 200;
const STEP_S = Number(process.env.BENCH_KNEE_STEP_S ?? 4);
/** Each search stops starting steps after this long. */
const SEARCH_BUDGET_S = 90;
const USERS = 32;
/** Connections the generator may open to nginx: never the bound of an open-model step. */
const CONNECTIONS = 512;
/** A request not answered by then has failed its step long before (200 ms). */
const TIMEOUT_MS = 2_000;
/** Today's `gateway.reservations.rps` (32 connections, closed model): the goal is 3x it. */
const RESERVATIONS_RPS_TODAY = 104;
const SETTLE_MS = 500;
const QUIET_ANSWERS = 3;
const QUIET_MAX_MS = 30_000;
/** A search that does not hold even this low says 0 (a machine busy with other work). */
const MIN_RATE = 3;
const CITIES = ['seoul', 'busan', 'jeju', 'gangneung', 'jeonju'];

const log = (line: string) => console.error(`knee: ${line}`);

/**
 * Runs `work`s one after another in the order they were asked for: two knee
 * searches whose probes go through it take turns, step by step.
 */
function oneAtATime(): <T>(work: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>) => {
    const run = last.then(work, work);
    last = run.catch(() => undefined);
    return run;
  };
}

/**
 * Between steps: waits until what the last one left queued in nginx and the
 * services (requests its client gave up on at TIMEOUT_MS go on being served)
 * has ended: `call()`s are sent one at a time until QUIET_ANSWERS in a row
 * are answered 2xx within P99_LIMIT_MS, for at most QUIET_MAX_MS.
 */
async function untilQuiet(sender: HttpSender, call: () => HttpCall, what: string): Promise<void> {
  await sleep(SETTLE_MS);
  const t0 = performance.now();
  let quick = 0;
  while (quick < QUIET_ANSWERS) {
    if (performance.now() - t0 > QUIET_MAX_MS) {
      log(`${what} still slow ${QUIET_MAX_MS / 1000} s after its step; going on`);
      return;
    }
    const t = performance.now();
    const a = await sender.send(call(), t + TIMEOUT_MS);
    const ok = a.status >= 200 && a.status < 300 && performance.now() - t < P99_LIMIT_MS;
    quick = ok ? quick + 1 : 0;
    if (!ok) await sleep(250);
  }
}

function stepsText(r: KneeResult): string {
  return r.steps
    .map((s) => `${s.rate}${s.held ? '' : ` x (${s.why})`}`)
    .join(', ')
    .slice(0, 400);
}

/** The 1-minute load average now, for a figure's anchor. */
const loadNow = () => os.loadavg()[0].toFixed(1);

function kneeFigure(
  name: string,
  r: KneeResult,
  what: string,
  loadBefore: string,
  goal?: string,
): Figure {
  return {
    name,
    value: r.knee,
    unit: 'req/s',
    ...(goal ? { goal } : {}),
    anchor:
      `${what}; p99 < ${P99_LIMIT_MS} ms from the intended send time and 0 failed, ${STEP_S} s open-model steps; ` +
      `held up to ${r.knee}${r.failedAt ? `, not at ${r.failedAt}` : ''} (${r.ended}, ${r.steps.length} steps in ${Math.round(r.seconds)} s, load average ${loadBefore} before, ${loadNow()} after); steps: ${stepsText(r)}`,
  };
}

export async function run(): Promise<Figure[]> {
  const stack = await startLoadStack();
  const senders: HttpSender[] = [];
  try {
    const baseline = await startBaseline(stack);
    const users = await userHeaders(stack, 'knee-', USERS);
    // both answer a booking, its replay, a reused key and a taken night alike, or nothing is measured
    await checkSameAnswers(stack.nginx.url, baseline.url, users[0], [
      JSON.parse(booking(0)),
      JSON.parse(booking(1)),
    ]);
    await freeNights(stack, 'knee-', log);
    const runId = Date.now().toString(36);
    /**
     * Stays are taken in turn across the steps and the searches, never twice in
     * a run: a booking its client gave up on may still commit after its step's
     * nights were freed. Stay n is booking(n) (60 listings x 364 nights, then
     * the same again: freed by then), booked by user n % USERS under key n.
     */
    let nextStay = 0;
    const turn = oneAtATime();

    /** A knee search of bookings at `origin` (nginx's gateway, or its baseline server). */
    const bookingKnee = (origin: string, label: string, startRate: number) => {
      const sender = new HttpSender(origin, CONNECTIONS);
      senders.push(sender);
      let first = 0;
      const call = (stay: number): HttpCall => ({
        method: 'POST',
        path: '/api/reservations',
        headers: {
          ...users[stay % users.length],
          'content-type': 'application/json',
          'idempotency-key': `knee-${runId}-${stay}`,
        },
        body: booking(stay),
      });
      const step = openLoadProbe({
        durationS: STEP_S,
        p99LimitMs: P99_LIMIT_MS,
        timeoutMs: TIMEOUT_MS,
        send: async (n, deadline) => verdict(await sender.send(call(first + n), deadline)),
        after: async () => {
          await untilQuiet(sender, () => call(nextStay++), label);
          await freeNights(stack, 'knee-', log);
        },
      });
      const probe = (rate: number) =>
        turn(() => {
          first = nextStay;
          nextStay += Math.ceil(rate * STEP_S) + 1;
          return step(rate);
        });
      return {
        warmUp: async () => log(`${label} warm-up: ${stepLine(await probe(startRate / 2))}`),
        search: () =>
          findKnee({
            probe,
            startRate,
            maxRate: 3_200,
            minRate: MIN_RATE,
            // the two searches take turns: each has twice the time
            budgetS: 2 * SEARCH_BUDGET_S,
            maxSteps: 10,
            onStep: (s) => log(`${label}: ${stepLine(s)}`),
          }),
      };
    };

    const gw = stack.nginx.url;
    const searches = [bookingKnee(gw, 'stayline', 50), bookingKnee(baseline.url, 'baseline', 50)];
    // warm-ups at half the start rate (JIT, pools, keep-alive connections): not judged
    for (const s of searches) await s.warmUp();
    // step by step in turns, so that both see the shared machine alike
    const bookingLoad = loadNow();
    const [stayline, base] = await Promise.all(searches.map((s) => s.search()));

    const listingsSender = new HttpSender(gw, CONNECTIONS);
    senders.push(listingsSender);
    const listingsCall = (n: number): HttpCall => ({
      method: 'GET',
      path: `/api/listings?limit=20${n % 2 ? `&city=${CITIES[(n >> 1) % CITIES.length]}` : ''}`,
      headers: users[n % users.length],
    });
    const listingsProbe = openLoadProbe({
      durationS: STEP_S,
      p99LimitMs: P99_LIMIT_MS,
      timeoutMs: TIMEOUT_MS,
      send: async (n, deadline) => verdict(await listingsSender.send(listingsCall(n), deadline)),
      after: () => untilQuiet(listingsSender, () => listingsCall(0), 'listings'),
    });
    log(`listings warm-up: ${stepLine(await listingsProbe(50))}`);
    const listingLoad = loadNow();
    const listings = await findKnee({
      probe: listingsProbe,
      startRate: 100,
      maxRate: 6_400,
      minRate: MIN_RATE,
      budgetS: SEARCH_BUDGET_S,
      maxSteps: 10,
      onStep: (s) => log(`listings: ${stepLine(s)}`),
    });

    const ratio = base.knee > 0 ? stayline.knee / base.knee : NaN;
    return [
      kneeFigure(
        'gateway.bookings.knee',
        stayline,
        `POST /api/reservations through the gateway, whole stack; 3x today's gateway.reservations.rps (~${RESERVATIONS_RPS_TODAY})`,
        bookingLoad,
        `>= ${3 * RESERVATIONS_RPS_TODAY}`,
      ),
      kneeFigure(
        'baseline.bookings.knee',
        base,
        'the same booking by one plain Node process with mysql2, one transaction, behind the same nginx (bench/src/baseline)',
        bookingLoad,
      ),
      {
        name: 'gateway.bookings.baseline_ratio',
        value: round(ratio, 3),
        unit: 'ratio',
        anchor: `stayline's booking knee / the baseline's, searched in turns in the same run (${stayline.knee} / ${base.knee}); what differs: bench/src/baseline/server.ts`,
      },
      kneeFigure(
        'gateway.listings.knee',
        listings,
        'GET /api/listings?limit=20 (every other one for a city) through the gateway, whole stack',
        listingLoad,
      ),
    ];
  } finally {
    for (const s of senders) s.close();
    const errors = baselineErrors(stack);
    if (errors.length)
      log(`the baseline answered ${errors.length} 500(s), e.g. ${errors.slice(0, 3).join(' | ')}`);
    await stack.stop();
  }
}

runWhenMain(module, run);
