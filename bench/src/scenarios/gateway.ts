/**
 * Benchmark of the nginx gateway (docs/patterns/load-balancing.md, "Server side"),
 * over its own whole stack: 2 instances of every service behind nginx, upstreams
 * kept by the gateway sync.
 * - stack.full.startup: datastores, 2 instances of every service and the sync, until nginx routes to all;
 * - gateway.listings.rps: GET /api/listings?limit=20 through nginx, as 97 users in turn,
 *   each page ranked for its caller (a call to recommendation over TCP), autocannon,
 *   32 connections;
 * - gateway.reservations.rps: POST /api/reservations through nginx, every request a new
 *   booking (its own Idempotency-Key, listing and night: no conflict, no replay) by one
 *   of 97 users, each held in MariaDB and charged through payment over TCP;
 * - gateway.hop.* / direct.hop.*: the same GET /api/payments?reservationId=none via nginx /
 *   straight to one instance; one keep-alive connection, one request at a time,
 *   interleaved rounds (the cost of the extra hop);
 * - lb.gateway.* / lb.clientside.*: that GET from a service-like caller, balanced over the
 *   2 payment instances by nginx / by the caller itself (BalancedHttpClient fed by the
 *   registry), both on fetch (undici) with keep-alive, one at a time, interleaved rounds;
 * - breaker.open.gateway.*: GET /api/listings?limit=20 through nginx while every recommendation
 *   instance answers 5 s late (the fault flag, so they stay registered) and reservation's
 *   breakers towards them are open: each page served in the fallback order without waiting;
 *   one keep-alive connection, one request at a time (the healthy page's p99 beside it);
 * - gateway.new_instance.first_request: a third payment instance, from accepting
 *   connections to the first request nginx sends it (registry push, sync, nginx -t, reload).
 * Every request carries its user's token (`Authorization: Bearer`), issued by the
 * stack's auth instances before any timed part: what is measured includes checking
 * a token, never issuing one.
 *   node scripts/run.cjs bench/src/scenarios/gateway.ts      (prints the figures as JSON)
 */
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { BalancedHttpClient, RedisRegistry } from '@stayline/discovery';
import {
  gatewayUpstreams,
  HttpClient,
  Stack,
  LOAD_GATEWAY_LIMITS,
  startStack,
  waitForGatewayUpstreams,
  startService,
  startServices,
  scrapeMetric,
  UserTokens,
} from '@stayline/stack-kit';
import { clearFlag, setFlag } from '@stayline/demo';
import { booking } from '../booking-load';
import { round, summarize, type Figure, runWhenMain } from '../figure';

const RPS_SECONDS = 5;
const CONNECTIONS = 32;
const HOP_ROUNDS = 6;
const HOP_REQUESTS = 300;
const LIGHT_GET = '/api/payments?reservationId=none';
/** The users the load acts as: `bench-0` ... `bench-96`. */
const USERS = 97;
const READER = 'bench-reader';
const LISTING_PAGE = '/api/listings?limit=20';
/** Sequential pages timed through an open breaker, and through a healthy dependency. */
const BREAKER_REQUESTS = 1_000;
/** The seed's hanging callee: far beyond reservation's 300 ms ranking timeout. */
const HANG_MS = 5_000;
/** `resilience_breaker_state`: 1 is open. */
const OPEN = 1;

interface AutocannonResult {
  requests: { average: number; total: number };
  errors: number;
  non2xx: number;
  timeouts: number;
}
interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}
const autocannon = createRequire(__filename)('autocannon') as (opts: {
  url: string;
  connections: number;
  duration: number;
  requests?: Array<
    AutocannonRequest & { setupRequest?: (r: AutocannonRequest) => AutocannonRequest }
  >;
}) => Promise<AutocannonResult>;

/** Sequential samples of two ways to do the same thing, in alternating rounds (a noisy 2-core host). */
async function interleaved(
  a: () => Promise<number>,
  b: () => Promise<number>,
  rounds = HOP_ROUNDS,
  perRound = HOP_REQUESTS,
): Promise<[number[], number[]]> {
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = 0; i < 100; i++) await a().then(() => b()); // warm-up: connections, JIT, caches
  for (let r = 0; r < rounds; r++) {
    const order: Array<[() => Promise<number>, number[]]> = [
      [a, sa],
      [b, sb],
    ];
    if (r % 2) order.reverse();
    for (const [f, out] of order) for (let i = 0; i < perRound; i++) out.push(await f());
  }
  return [sa, sb];
}

/** One GET over `agent`: its time in ms and its body; rejects on a non-2xx answer. */
function timedPage(
  url: string,
  agent: http.Agent,
  headers: Record<string, string>,
): Promise<{ ms: number; body: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () =>
          (res.statusCode ?? 0) < 300
            ? resolve({ ms: performance.now() - t0, body })
            : reject(new Error(`${url}: HTTP ${res.statusCode}`)),
        );
      })
      .on('error', reject);
  });
}

/** Reservation's breaker states towards recommendation, over every reservation instance. */
async function rankingBreakers(stack: Stack): Promise<number[]> {
  const reservations = stack.byKind('service').filter((c) => c.meta?.service === 'reservation');
  const states = await Promise.all(
    reservations.map((c) => scrapeMetric(c, 'resilience_breaker_state')),
  );
  return states
    .flat()
    .filter((s) => s.labels['dependency'] === 'recommendation')
    .map((s) => s.value);
}

/**
 * The listing page through nginx with reservation's breakers towards recommendation open
 * (every recommendation instance hanging), and the same page healthy: p50/p99 of each.
 */
async function breakerThroughGateway(
  stack: Stack,
  gw: string,
  headers: Record<string, string>,
): Promise<Figure[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sequential = async (n: number) => {
    const samples: number[] = [];
    let fallback = 0;
    for (let i = 0; i < n; i++) {
      const page = await timedPage(`${gw}${LISTING_PAGE}`, agent, headers);
      samples.push(page.ms);
      if ((JSON.parse(page.body) as { ranking?: string }).ranking === 'fallback') fallback++;
    }
    return { ...summarize(samples), fallback };
  };
  try {
    await sequential(100); // warm-up
    const healthy = await sequential(BREAKER_REQUESTS);
    await setFlag(stack, 'fault.recommendation.all.latencyMs', { kind: 'number', value: HANG_MS });
    try {
      // pages from a few clients at once until every breaker towards recommendation is open
      const deadline = Date.now() + 30_000;
      const opening = new http.Agent({ keepAlive: true, maxSockets: 8 });
      try {
        for (;;) {
          const states = await rankingBreakers(stack);
          if (states.length > 0 && states.every((v) => v === OPEN)) break;
          if (Date.now() > deadline) throw new Error(`breakers not open: ${states.join(',')}`);
          await Promise.all(
            Array.from({ length: 8 }, () => timedPage(`${gw}${LISTING_PAGE}`, opening, headers)),
          );
        }
      } finally {
        opening.destroy();
      }
      const open = await sequential(BREAKER_REQUESTS);
      if (open.fallback < BREAKER_REQUESTS) {
        throw new Error(
          `${BREAKER_REQUESTS - open.fallback} pages ranked while every breaker was open`,
        );
      }
      const anchor = `GET ${LISTING_PAGE} through nginx, whole stack, every recommendation instance 5 s late and reservation's breakers towards them open: ${BREAKER_REQUESTS} sequential pages on one keep-alive connection, all in the fallback order; healthy, ranked: p50 ${round(healthy.p50)} / p99 ${round(healthy.p99)} ms (${healthy.fallback} fallback)`;
      return [
        { name: 'breaker.open.gateway.p50', value: round(open.p50), unit: 'ms', anchor },
        {
          name: 'breaker.open.gateway.p99',
          value: round(open.p99),
          unit: 'ms',
          goal: '< healthy p99',
          anchor,
        },
      ];
    } finally {
      await clearFlag(stack, 'fault.recommendation.all.latencyMs');
    }
  } finally {
    agent.destroy();
  }
}

async function rps(
  name: string,
  url: string,
  requests: Parameters<typeof autocannon>[0]['requests'],
): Promise<{ figure: Figure; failed: number }> {
  await autocannon({ url, connections: CONNECTIONS, duration: 1, requests }); // warm-up
  const r = await autocannon({ url, connections: CONNECTIONS, duration: RPS_SECONDS, requests });
  const failed = r.errors + r.non2xx + r.timeouts;
  if (failed)
    console.error(`${name}: ${failed} of ${r.requests.total} requests failed or were not 2xx`);
  return {
    figure: {
      name,
      value: Math.round(r.requests.average),
      unit: 'req/s',
      anchor: `${CONNECTIONS} connections, ${RPS_SECONDS} s, 2 instances, 2 cores shared with the whole stack`,
    },
    failed,
  };
}

/**
 * A third payment instance: from accepting connections to the first request nginx sends it.
 * Its registration reloads nginx, which closes idle keep-alive connections: the client
 * sends a GET cut that way once more, as a browser does.
 */
async function newInstanceFirstRequest(
  stack: Stack,
  gw: string,
  headers: Record<string, string>,
): Promise<number> {
  const client = new HttpClient({ maxSockets: 1 });
  const c = await startService(stack, { service: 'payment', name: 'payment-3' });
  const listening = performance.now();
  const sent: Array<{ id: string; at: number }> = [];
  try {
    for (let n = 0; n < 5_000; n++) {
      const id = `bench-third-${n}`;
      sent.push({ id, at: performance.now() - listening });
      await client.request(`${gw}${LIGHT_GET}`, { headers: { ...headers, 'X-Request-Id': id } });
      if (n % 10 === 9) {
        const log = fs.readFileSync(c.spec.logFile, 'utf8');
        // the gateway sets its own request id; the client's is logged as clientRequestId
        const first = sent.find((s) => log.includes(`"clientRequestId":"${s.id}"`));
        if (first) return first.at;
      }
      await sleep(2);
    }
  } finally {
    client.close();
  }
  throw new Error('payment-3 never got a request through the gateway');
}

export async function run(): Promise<Figure[]> {
  const t0 = Date.now();
  // the booking figure is a load from one address: the production limit (1 a second) would measure the limit
  const stack = await startStack({
    replicas: 2,
    sentinel: true,
    nginx: true,
    gatewayLimits: LOAD_GATEWAY_LIMITS,
  });
  const figures: Figure[] = [];
  try {
    const { instances } = await startServices(stack, { instances: 2 });
    const startup = Date.now() - t0;
    const started = instances.filter((c) => c.meta?.service !== 'dashboard').length;
    figures.push({
      name: 'stack.full.startup',
      value: round(startup / 1000, 1),
      unit: 's',
      anchor: `MariaDB x3, Redis x2, Sentinel x3, nginx, ${started} service instances and the dashboard (TypeScript compiled at start), gateway sync`,
    });
    const gw = stack.nginx.url;
    // every user's token before the clock starts (autocannon's setupRequest cannot wait for one)
    const tokens = UserTokens.of(stack);
    const users = await Promise.all(
      Array.from({ length: USERS }, (_, i) => tokens.headers(`bench-${i}`)),
    );

    let m = 0;
    const listings = await rps('gateway.listings.rps', `${gw}/api/listings?limit=20`, [
      {
        method: 'GET',
        path: '/api/listings?limit=20',
        setupRequest: (r) => ({ ...r, headers: users[m++ % USERS] }),
      },
    ]);
    figures.push(listings.figure);
    let n = 0;
    const reservations = await rps('gateway.reservations.rps', `${gw}/api/reservations`, [
      {
        method: 'POST',
        path: '/api/reservations',
        setupRequest: (r) => {
          const k = n++;
          return {
            ...r,
            headers: {
              ...users[k % USERS],
              'content-type': 'application/json',
              'idempotency-key': `bench-${t0}-${k}`,
            },
            body: booking(k),
          };
        },
      },
    ]);
    figures.push(reservations.figure, {
      name: 'gateway.reservations.failed',
      value: reservations.failed,
      unit: 'count',
      goal: '0',
    });

    const reader = await tokens.headers(READER);
    const payment1 = stack.component('payment-1');
    const viaGateway = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const direct = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const [hop, straight] = await interleaved(
      async () => (await timedPage(`${gw}${LIGHT_GET}`, viaGateway, reader)).ms,
      async () =>
        (
          await timedPage(
            `http://${payment1.host}:${payment1.ports.http}${LIGHT_GET}`,
            direct,
            reader,
          )
        ).ms,
    );
    viaGateway.destroy();
    direct.destroy();
    const h = summarize(hop);
    const d = summarize(straight);
    const hopAnchor = `GET ${LIGHT_GET}, one keep-alive connection, ${hop.length} sequential requests`;
    figures.push(
      { name: 'gateway.hop.p50', value: round(h.p50), unit: 'ms', anchor: hopAnchor },
      { name: 'gateway.hop.p99', value: round(h.p99), unit: 'ms', anchor: hopAnchor },
      { name: 'direct.hop.p50', value: round(d.p50), unit: 'ms', anchor: hopAnchor },
      { name: 'direct.hop.p99', value: round(d.p99), unit: 'ms', anchor: hopAnchor },
      {
        name: 'gateway.hop.added.p50',
        value: round(h.p50 - d.p50),
        unit: 'ms',
        anchor: 'gateway.hop.p50 - direct.hop.p50',
      },
    );

    const registry = new RedisRegistry({ redis: stack.redisTarget('service') });
    const client = await BalancedHttpClient.connect({ resolver: registry, service: 'payment' });
    try {
      const headers = await tokens.headers(READER);
      const timedFetch = async (call: () => Promise<Response>) => {
        const t = performance.now();
        const res = await call();
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return performance.now() - t;
      };
      const [viaNginx, clientSide] = await interleaved(
        () => timedFetch(() => fetch(`${gw}${LIGHT_GET}`, { headers })),
        () => timedFetch(() => client.request(LIGHT_GET, { headers })),
      );
      const g = summarize(viaNginx);
      const c = summarize(clientSide);
      const lbAnchor = `GET ${LIGHT_GET} over 2 payment instances, fetch (undici) keep-alive, ${viaNginx.length} sequential calls`;
      figures.push(
        { name: 'lb.gateway.p50', value: round(g.p50), unit: 'ms', anchor: lbAnchor },
        { name: 'lb.gateway.p99', value: round(g.p99), unit: 'ms', anchor: lbAnchor },
        { name: 'lb.clientside.p50', value: round(c.p50), unit: 'ms', anchor: lbAnchor },
        { name: 'lb.clientside.p99', value: round(c.p99), unit: 'ms', anchor: lbAnchor },
      );
    } finally {
      await client.close();
      await registry.close();
    }

    figures.push(...(await breakerThroughGateway(stack, gw, reader)));

    const first = await newInstanceFirstRequest(stack, gw, await tokens.headers(READER));
    const sync = await waitForGatewayUpstreams(stack, { payment: 3 });
    figures.push({
      name: 'gateway.new_instance.first_request',
      value: Math.round(first),
      unit: 'ms',
      anchor: `registration, sync (debounce 50 ms, nginx -t ${round(sync.lastReload?.validateMs ?? NaN, 1)} ms, reload ${round(sync.lastReload?.reloadMs ?? NaN, 1)} ms), then the round robin reaching it`,
    });
    const after = await gatewayUpstreams(stack);
    if (after.lastError) console.error(`gateway sync reported: ${after.lastError}`);
  } finally {
    await stack.stop();
  }
  return figures;
}

runWhenMain(module, run);
