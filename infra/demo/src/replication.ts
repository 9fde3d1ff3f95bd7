/**
 * `npm run demo:replication [-- --quick]`: read distribution and replication
 * lag (docs/patterns/replication.md). One replica's SQL thread is stopped
 * (`STOP SLAVE SQL_THREAD`: it keeps receiving, and acknowledging for
 * semi-sync, but applies nothing), under a listing read load and a trickle of
 * writes through the gateway:
 * - a booking, then a naive read of it on that replica, as a round-robin
 *   replica pool with no idea of lag would do: the seed's stale read, the
 *   booking is "gone";
 * - the same read through the gateway carrying the booking's
 *   `X-Consistency-Token`: found, on every instance (read-your-writes);
 * - every reservation instance's router takes the replica out of rotation
 *   (its measured lag shown) and sends it no read;
 * - the SQL thread started again: the replica catches up and rejoins reads by
 *   itself.
 * The demo logs in as alice through the gateway: the listings, the booking, its
 * reads and its cancellation carry her token (her booking is found for her only).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  adminConnection,
  Component,
  HttpClient,
  publishedTopology,
  Stack,
} from '@stayline/stack-kit';
import { latency, Load, percentile, WriteStream } from '@stayline/fault-kit';
import {
  checkAccepted,
  databaseOf,
  Demo,
  DemoUsers,
  flagInstances,
  replicaReads,
  runDemo,
} from './index';

/** SQL on one MariaDB node, as its administrator. */
async function onNode<T>(
  stack: Stack,
  node: string,
  sql: string,
  args: unknown[] = [],
): Promise<T> {
  const conn = await adminConnection(stack.component(node), stack.credentials);
  try {
    const [rows] = await conn.query(sql, args);
    return rows as T;
  } finally {
    await conn.end();
  }
}

/** Every reservation instance's view of `replica` (health and lag), by instance. */
async function routerViews(instances: Component[], replica: string) {
  return Promise.all(
    instances.map(async (c) => {
      const v = (await databaseOf(c).catch(() => undefined))?.replicas?.[replica];
      return { name: c.name, health: v?.health ?? 'unknown', lagMs: v?.lagMs ?? null };
    }),
  );
}

/** Reads every instance's router sent to `replica` so far. */
async function readsOn(instances: Component[], replica: string): Promise<number> {
  const all = await Promise.all(instances.map((c) => replicaReads(c)));
  return all.reduce((n, r) => n + (r[replica] ?? 0), 0);
}

/** Books one night on some listing through the gateway, as alice; retries another date when taken. */
async function book(
  d: Demo,
  http: HttpClient,
  users: DemoUsers,
): Promise<{ id: string; token: string }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const day = new Date(Date.now() + (30 + Math.floor(Math.random() * 300)) * 86_400_000);
    const next = new Date(day.getTime() + 86_400_000);
    const res = await http.request(`${d.gateway}/api/reservations`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': `demo-replication-${Date.now()}-${attempt}`,
        ...users.headers(),
      },
      body: JSON.stringify({
        listingId: `seoul-${String(1 + Math.floor(Math.random() * 12)).padStart(2, '0')}`,
        checkIn: day.toISOString().slice(0, 10),
        checkOut: next.toISOString().slice(0, 10),
        guests: 1,
      }),
    });
    if (res.status === 409) continue;
    const token = res.headers['x-consistency-token'];
    if (res.status !== 201 || typeof token !== 'string')
      throw new Error(`booking answered ${res.status}: ${res.body}`);
    return { id: res.json<{ id: string }>().id, token };
  }
  throw new Error('no free night found for the booking');
}

void runDemo(
  {
    name: 'replication',
    title: 'a lagging replica: stale reads, read-your-writes, skipped, rejoins',
  },
  async (d) => {
    const topology = await publishedTopology(d.stack);
    if (!topology || topology.replicas.length < 2)
      throw new Error('the published topology has fewer than 2 replicas');
    const [lagging, healthy] = topology.replicas.map((r) => r.name);
    const instances = flagInstances(d.stack, 'reservation');
    const http = new HttpClient();
    d.onCleanup('close the HTTP client', () => http.close());
    const users = await DemoUsers.login(d);
    d.say(
      `primary ${topology.primary.name}, replicas ${lagging} ${healthy}; reservation instances ${instances.map((c) => c.name).join(' ')}`,
    );

    d.step("load: alice's listings through the gateway (replica reads), and a trickle of writes");
    const load = Load.start({
      workers: 4,
      request: () => ({ url: `${d.gateway}/api/listings?limit=5`, headers: users.headers() }),
    });
    d.onCleanup('stop the read load', () => load.stop());
    const writes = await WriteStream.start(d.stack, { concurrency: 1, pauseMs: 20 });
    d.onCleanup('stop the writes', () => writes.stop());
    await sleep(d.pick(2_000, 1_000));

    d.step(`STOP SLAVE SQL_THREAD on ${lagging}: it receives, but applies nothing`);
    d.onCleanup(`start ${lagging}'s SQL thread`, () =>
      onNode(d.stack, lagging, 'START SLAVE SQL_THREAD'),
    );
    await onNode(d.stack, lagging, 'STOP SLAVE SQL_THREAD');
    const outMs = await d.until(
      `every router to take ${lagging} out of rotation`,
      async () => (await routerViews(instances, lagging)).every((v) => v.health !== 'usable'),
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    // reads counted from here: routed while the replica is out
    const r0 = {
      lagging: await readsOn(instances, lagging),
      healthy: await readsOn(instances, healthy),
    };
    d.say(
      `out of rotation on every instance ${Math.round(outMs)} ms later: ${(await routerViews(instances, lagging)).map((v) => `${v.name} ${v.health}`).join(', ')}`,
    );

    d.step('a booking through the gateway, then reads of it');
    const booking = await book(d, http, users);
    d.onCleanup('cancel the booking', () =>
      http.request(`${d.gateway}/api/reservations/${booking.id}/cancel`, {
        method: 'POST',
        headers: users.headers(),
      }),
    );
    const naive = await onNode<unknown[]>(
      d.stack,
      lagging,
      'SELECT id FROM reservation.reservations WHERE id = ?',
      [booking.id],
    );
    d.say(`booked ${booking.id}; X-Consistency-Token ${booking.token}`);
    d.say(
      `naive read on ${lagging} right after the write (a replica pool with no idea of lag): ${naive.length ? 'found' : 'NOT FOUND, the booking is "gone"'}`,
    );
    const tokenReads: Array<{ status: number; by: unknown; ms: number }> = [];
    for (let i = 0; i < d.pick(10, 4); i++) {
      const t = performance.now();
      const res = await http.request(`${d.gateway}/api/reservations/${booking.id}`, {
        headers: { 'x-consistency-token': booking.token, ...users.headers() },
      });
      tokenReads.push({
        status: res.status,
        by: res.headers['x-instance-id'],
        ms: performance.now() - t,
      });
    }
    const found = tokenReads.filter((r) => r.status === 200);
    d.say(
      `with the token, through the gateway: ${found.length}/${tokenReads.length} found (${[...new Set(tokenReads.map((r) => r.by))].join(', ')})`,
    );

    d.step(`${lagging} falls behind while the writes go on`);
    const lagPhase = d.pick(4_000, 1_500);
    let maxLag = 0;
    let usableSeen = 0;
    for (let t = 0; t < lagPhase; t += 500) {
      await sleep(500);
      const views = await routerViews(instances, lagging);
      usableSeen += views.filter((v) => v.health === 'usable').length;
      maxLag = Math.max(maxLag, ...views.map((v) => v.lagMs ?? 0));
      if (t % 1_000 === 0)
        d.say(
          `${lagging}: ${views.map((v) => `${v.name} ${v.health}, lag ${v.lagMs ?? '?'} ms`).join('; ')}`,
        );
    }
    const r1 = {
      lagging: await readsOn(instances, lagging),
      healthy: await readsOn(instances, healthy),
    };
    d.say(
      `reads while it lagged: ${lagging} ${r1.lagging - r0.lagging}, ${healthy} ${r1.healthy - r0.healthy}`,
    );

    d.step(`START SLAVE SQL_THREAD on ${lagging}`);
    const [{ pos }] = await onNode<Array<{ pos: string }>>(
      d.stack,
      topology.primary.name,
      'SELECT @@gtid_binlog_pos AS pos',
    );
    const startedAt = performance.now();
    await onNode(d.stack, lagging, 'START SLAVE SQL_THREAD');
    await onNode(d.stack, lagging, 'SELECT MASTER_GTID_WAIT(?, 30)', [pos]);
    const caughtUpMs = performance.now() - startedAt;
    d.say(`${lagging} applied its backlog (up to ${pos}) in ${Math.round(caughtUpMs)} ms`);
    const rejoinMs = await d.until(
      `every router to take ${lagging} back`,
      async () => (await routerViews(instances, lagging)).every((v) => v.health === 'usable'),
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    d.say(`back in rotation on every instance ${Math.round(rejoinMs)} ms after the start`);
    const r2 = await readsOn(instances, lagging);
    await sleep(d.pick(2_000, 1_000));
    const r3 = await readsOn(instances, lagging);
    const nowFound = await onNode<unknown[]>(
      d.stack,
      lagging,
      'SELECT id FROM reservation.reservations WHERE id = ?',
      [booking.id],
    );
    d.say(
      `${lagging} serves reads again: ${r3 - r2} since; the booking is there now: ${nowFound.length === 1}`,
    );
    await load.stop();
    await writes.stop();

    const errors = load.errors();
    checkAccepted(d, users, load.samples);
    d.check(`the naive read on ${lagging} missed the booking (the anomaly)`, naive.length === 0);
    d.check(
      'every read carrying the token found the booking',
      found.length === tokenReads.length,
      `${found.length}/${tokenReads.length}`,
    );
    d.check(
      `no router used ${lagging} while it lagged`,
      usableSeen === 0 && r1.lagging === r0.lagging,
      `${r1.lagging - r0.lagging} reads`,
    );
    d.check(`${healthy} carried the replica reads meanwhile`, r1.healthy > r0.healthy);
    d.check(`${lagging} caught up and takes reads again`, r3 > r2 && nowFound.length === 1);
    d.check(
      'no listing read failed',
      errors.length === 0,
      `${errors.length} of ${load.samples.length}`,
    );

    d.figure(
      `naive read on ${lagging} right after the write`,
      naive.length ? 'found' : 'missing',
      '',
      {
        anchor: 'the seed: read-your-own-write anomaly',
      },
    );
    d.figure('token reads through the gateway: found', `${found.length}/${tokenReads.length}`, '', {
      goal: 'all',
    });
    d.figure(
      'token read p50',
      percentile(
        tokenReads.map((r) => r.ms),
        50,
      ),
      'ms',
      {
        anchor: `a listing read under the same load: p50 ${latency(load.samples).p50.toFixed(1)} ms`,
      },
    );
    d.figure('out of rotation after STOP SLAVE', Math.round(outMs), 'ms', {
      anchor: 'the lag monitor probes every 150 ms',
    });
    d.figure(`highest lag measured by the routers`, maxLag, 'ms', { goal: 'skipped past 1000' });
    d.figure(`reads sent to ${lagging} while it lagged`, r1.lagging - r0.lagging, '', {
      goal: '0',
      anchor: 'TypeORM replication: round robin, blind to lag',
    });
    d.figure('backlog applied after START SLAVE', Math.round(caughtUpMs), 'ms');
    d.figure('back in rotation after START SLAVE', Math.round(rejoinMs), 'ms', {
      anchor: 'TypeORM/mysql2 pool: a dropped slave never returns (restoreNodeTimeout 0)',
    });
    d.figure('listing reads / failed', `${load.samples.length} / ${errors.length}`, '', {
      goal: 'failed 0',
    });
  },
);
