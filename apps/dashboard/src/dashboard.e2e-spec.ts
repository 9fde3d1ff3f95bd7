/**
 * The live topology page over the whole stack, read through the nginx gateway:
 * the snapshot holds the stack's real components (every instance, breakers,
 * the failover leader and its token, MariaDB with lag and semi-sync, Redis and
 * its Sentinels, etcd), the event stream pushes a graceful stop in well under
 * a second, and in a real browser (Debian's chromium, never a downloaded one)
 * a row disappears within 2 s of a SIGTERM and within the lease TTL plus one
 * renewal of a SIGKILL; a MariaDB failover reaches the timeline. The stack's
 * dashboard runs the full view (addresses shown); a second one started in the
 * public view sends no address, port, host name or version, on the stream, the
 * JSON route or the page. One stack for all of it (each start costs ~15 s).
 *   DASHBOARD_SCREENSHOT=docs/images/dashboard.png npm test -- dashboard.e2e
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_LEASE_TTL_MS } from '@stayline/discovery';
import {
  AdminTokens,
  dashboardEnv,
  leaderAgent,
  publishedTopology,
  Stack,
  startFailoverAgents,
  startStack,
  waitFor,
  startService,
  startServices,
  UserTokens,
  REPO_ROOT,
} from '@stayline/stack-kit';
import { chromium, type Browser } from 'playwright-core';
import type { TimelineEvent, TopologySnapshot } from './topology/snapshot';

jest.setTimeout(240_000);

/** The registry renews a lease every third of its TTL: a crash is gone within TTL + one renewal. */
const CRASH_BOUND_MS = DEFAULT_LEASE_TTL_MS + DEFAULT_LEASE_TTL_MS / 3;

interface SseMessage {
  event: string;
  data?: unknown;
  at: number;
}

/** Reads a server-sent event stream into a list, as a page would. */
async function openStream(url: string) {
  const abort = new AbortController();
  const res = await fetch(url, { signal: abort.signal });
  const messages: SseMessage[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const event =
          /^event: (.*)$/m.exec(block)?.[1] ?? (block.startsWith(':') ? 'comment' : 'other');
        const data = /^data: (.*)$/m.exec(block)?.[1];
        messages.push({
          event,
          data: data === undefined ? undefined : JSON.parse(data),
          at: Date.now(),
        });
      }
    }
  })().catch(() => undefined);
  return {
    res,
    messages,
    snapshots: () =>
      messages
        .filter((m) => m.event === 'snapshot')
        .map((m) => ({ ...m, s: m.data as TopologySnapshot })),
    close: async () => {
      abort.abort();
      await pump;
    },
  };
}

describe('dashboard through the gateway (whole stack)', () => {
  let stack: Stack;
  let gw: string;
  let tokens: UserTokens;
  let browser: Browser | undefined;

  const snapshot = async () => {
    const res = await fetch(`${gw}/dashboard/snapshot`, { signal: AbortSignal.timeout(5_000) });
    return (await res.json()) as { snapshot: TopologySnapshot; timeline: TimelineEvent[] };
  };

  /** Sends alice's GETs to `url` one after another (50 ms apart) until `until` settles; their statuses. */
  const withTraffic = async (url: string, until: () => Promise<unknown>) => {
    const headers = await tokens.headers('alice');
    const statuses: number[] = [];
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        const res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
        statuses.push(res.status);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    try {
      await until();
    } finally {
      sending = false;
      await traffic;
    }
    return statuses;
  };

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, sentinel: true, nginx: true, etcd: true });
    // the agents first: they publish the topology the services follow, and the dashboard is given their addresses
    await startFailoverAgents(stack);
    await startServices(stack, { instances: 2 });
    gw = stack.nginx.url;
    tokens = UserTokens.of(stack);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('serves the page and a snapshot holding the real components', async () => {
    // nginx may still run the worker from before the sync added the dashboard (a 502) for a moment
    let page = await fetch(`${gw}/dashboard`);
    await waitFor('the page through the gateway', async () => {
      page = await fetch(`${gw}/dashboard`);
      return page.status === 200;
    });
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('EventSource');

    const services = stack.byKind('service').map((c) => c.name);
    expect(services).toContain('dashboard-1');
    const topology = await publishedTopology(stack);
    let leader = await leaderAgent(stack);
    const status = await stack.status();
    // the status contract lists the dashboard like any service instance (HTTP only)
    const listed = status.components.find((c) => c.name === 'dashboard-1');
    expect(listed).toMatchObject({
      kind: 'service',
      role: 'instance',
      host: '127.0.0.1',
      healthy: true,
    });
    expect(listed?.ports).toEqual({ http: listed?.port });
    expect(listed?.pid).toBeGreaterThan(0);
    const sentinelMaster = status.components.find((c) => c.kind === 'sentinel')?.master;
    let s = (await snapshot()).snapshot;
    await waitFor(
      'every instance probed and every datastore seen',
      async () => {
        s = (await snapshot()).snapshot;
        // leadership may move on a loaded host: compare with the leader as of this snapshot
        leader = await leaderAgent(stack);
        return (
          services.every((id) => s.instances.some((i) => i.id === id && i.health !== 'unknown')) &&
          s.mariadb.nodes.every((n) => n.reachable) &&
          s.mariadb.nodes.length === 3 &&
          s.etcd.leader !== undefined &&
          s.agents.leader !== undefined &&
          s.agents.leader === leader?.name &&
          s.redis.nodes.length === 2
        );
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${JSON.stringify(s, null, 1)}`);
    });

    // the launcher's dashboard runs the full view: addresses shown
    expect(s.view).toBe('full');
    for (const i of s.instances) expect(i).toMatchObject({ host: '127.0.0.1' });
    for (const n of s.mariadb.nodes) expect(n.port).toBeGreaterThan(0);
    // instances: exactly the stack's, healthy, with an in-flight count
    expect(s.instances.map((i) => i.id).sort()).toEqual([...services].sort());
    for (const i of s.instances) {
      // degraded still serves (a replica a little behind, a breaker not closed)
      expect({ id: i.id, serving: ['up', 'degraded'].includes(i.health) }).toEqual({
        id: i.id,
        serving: true,
      });
      expect(i.inFlight).toBeGreaterThanOrEqual(0);
      // absent until the second poll of an instance; never negative
      expect(i.requestsPerS ?? 0).toBeGreaterThanOrEqual(0);
    }
    // failover agents: the leader the launcher sees, with its fencing token
    expect(s.agents.leader).toBe(leader?.name);
    expect(s.agents.token).toBeGreaterThan(0);
    expect(s.agents.agents).toHaveLength(2);
    // MariaDB: the published primary, writable with semi-sync on; replicas following it with a lag in ms
    expect(s.mariadb).toMatchObject({ epoch: topology?.epoch, primary: topology?.primary.name });
    const primary = s.mariadb.nodes.find((n) => n.role === 'primary');
    expect(primary).toMatchObject({
      name: topology?.primary.name,
      readOnly: false,
      semiSync: 'ON',
      lagMs: 0,
    });
    expect(primary?.semiSyncClients).toBeGreaterThanOrEqual(1);
    const replicas = s.mariadb.nodes.filter((n) => n.role === 'replica');
    expect(replicas.map((n) => n.name).sort()).toEqual(
      topology?.replicas.map((r) => r.name).sort(),
    );
    for (const r of replicas) {
      expect(r).toMatchObject({
        ioRunning: true,
        sqlRunning: true,
        semiSync: 'ON',
        readOnly: true,
      });
      expect(typeof r.lagMs).toBe('number');
    }
    // the leader agent's concerns (errant GTIDs on a rejoin, ...): none on a healthy stack
    expect(s.mariadb.concerns).toEqual([]);
    // Redis: the primary the Sentinels name, its replica linked, three Sentinels with quorum
    expect(s.redis.primary).toBe(sentinelMaster);
    expect(s.redis.nodes.map((n) => [n.role, n.up])).toEqual([
      ['primary', true],
      ['replica', true],
    ]);
    expect(s.redis.sentinels).toHaveLength(3);
    for (const x of s.redis.sentinels) expect(x).toMatchObject({ reachable: true, quorum: true });
    // etcd: three healthy members agreeing on one leader
    expect(s.etcd.members).toHaveLength(3);
    expect(s.etcd.members.filter((m) => m.isLeader)).toHaveLength(1);
    for (const m of s.etcd.members) expect(m).toMatchObject({ reachable: true, healthy: true });
    // breakers: each reservation instance's view of its two dependencies
    for (const caller of ['reservation-1', 'reservation-2'])
      for (const dependency of ['payment', 'recommendation'])
        expect(s.breakers).toContainEqual(
          expect.objectContaining({ caller, dependency, endpoint: '*', state: 'closed' }),
        );
  });

  it('pushes changes over server-sent events through nginx: a graceful stop in well under a second', async () => {
    const stream = await openStream(`${gw}/dashboard/events`);
    try {
      expect(stream.res.status).toBe(200);
      expect(stream.res.headers.get('content-type')).toMatch(/text\/event-stream/);
      await waitFor('the first snapshot', async () => stream.snapshots().length > 0, {
        timeoutMs: 5_000,
      });
      await waitFor(
        'a snapshot with payment-2',
        async () => stream.snapshots().some((m) => m.s.instances.some((i) => i.id === 'payment-2')),
        { timeoutMs: 5_000 },
      );
      expect(stream.messages.some((m) => m.event === 'timeline')).toBe(true);

      const t0 = Date.now();
      stack.kill('payment-2', 'SIGTERM');
      await waitFor(
        'a snapshot without payment-2',
        async () =>
          stream.snapshots().some((m) => !m.s.instances.some((i) => i.id === 'payment-2')),
        { timeoutMs: 5_000, intervalMs: 5 },
      );
      const seen = stream.snapshots().find((m) => !m.s.instances.some((i) => i.id === 'payment-2'));
      const ms = (seen?.at ?? 0) - t0;
      console.log(`SIGTERM of payment-2 seen on the event stream through nginx after ${ms} ms`);
      expect(ms).toBeLessThan(1_000);
      const left = stream.messages
        .filter((m) => m.event === 'timeline')
        .flatMap((m) => m.data as TimelineEvent[])
        .find((e) => e.kind === 'instance-left' && e.subject === 'payment-2');
      expect(left?.message).toContain('deregistered');
    } finally {
      await stream.close();
    }
  });

  it('shows breakers opening when a dependency hangs', async () => {
    const reservation = stack.component('reservation-1');
    const flag = `http://${reservation.host}:${reservation.port}/admin/flags/fault.recommendation.all.latencyMs`;
    const ADMIN = await AdminTokens.of(stack).headers();
    const put = await fetch(flag, {
      method: 'PUT',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'number', value: 1_000 }),
    });
    expect(put.status).toBeLessThan(300);
    try {
      await waitFor(
        'a recommendation breaker open on the page',
        async () => {
          // listings ranked for the caller: reservation asks recommendation
          await fetch(`${gw}/api/listings?limit=3`, {
            headers: await tokens.headers('alice'),
            signal: AbortSignal.timeout(5_000),
          });
          const { snapshot: s, timeline } = await snapshot();
          return (
            s.breakers.some((b) => b.dependency === 'recommendation' && b.state === 'open') &&
            timeline.some((e) => e.kind === 'breaker-opened') &&
            s.flags.flags['fault.recommendation.all.latencyMs'] !== undefined
          );
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
    } finally {
      await fetch(flag, { method: 'DELETE', headers: ADMIN });
    }
  });

  it('shows a MariaDB failover: finished, primary changed, the old primary fenced', async () => {
    const before = await publishedTopology(stack);
    const old = before?.primary.name as string;
    stack.kill(old, 'SIGKILL');
    let last: Awaited<ReturnType<typeof snapshot>> | undefined;
    await waitFor(
      'the failover on the page',
      async () => {
        last = await snapshot();
        const kinds = new Set(last.timeline.map((e) => e.kind));
        return (
          last.snapshot.mariadb.primary !== old &&
          kinds.has('primary-changed') &&
          kinds.has('failover-finished')
        );
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const now = await publishedTopology(stack);
    const s = last?.snapshot as TopologySnapshot;
    expect(s.mariadb).toMatchObject({ epoch: now?.epoch, primary: now?.primary.name });
    expect(s.mariadb.nodes.find((n) => n.name === old)).toMatchObject({
      role: 'fenced',
      reachable: false,
    });
    expect(s.mariadb.nodes.find((n) => n.name === now?.primary.name)).toMatchObject({
      readOnly: false,
    });
    const finished = last?.timeline.find((e) => e.kind === 'failover-finished');
    expect(finished?.message).toContain(`${old} -> ${now?.primary.name}`);
  });

  it('in a browser: a stopped instance disappears within 2 s, a killed one within the lease', async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
    await page.goto(`${gw}/dashboard`);
    const row = (id: string) => page.locator(`tr[data-instance="${id}"]`);
    await row('scrap-1').waitFor({ timeout: 10_000 });
    await row('scrap-2').waitFor({ timeout: 10_000 });
    await page.locator('#conn.live').waitFor({ timeout: 5_000 });

    // traffic to one instance shows as its rate, and in its service's total; the probes do not count
    const rated = (row: string) =>
      page.locator(`${row} td[data-rate]:not([data-rate=""]):not([data-rate="0"])`);
    const scrap = stack.component('scrap-1');
    const direct = await withTraffic(`http://${scrap.host}:${scrap.port}/api/scraps`, async () => {
      await rated('tr[data-instance="scrap-1"]').waitFor({ timeout: 10_000 });
      await rated('tr[data-service-total="scrap"]').waitFor({ timeout: 2_000 });
    });
    const shown = Number(await rated('tr[data-instance="scrap-1"]').getAttribute('data-rate'));
    console.log(`browser: scrap-1 at ${shown} req/s after ${direct.length} requests`);
    expect(shown).toBeGreaterThan(0);
    expect(direct.length).toBeGreaterThan(0);
    expect(direct.filter((status) => status !== 200)).toEqual([]);

    let t0 = Date.now();
    stack.kill('scrap-1', 'SIGTERM');
    await row('scrap-1').waitFor({ state: 'detached', timeout: 2_000 });
    const gracefulMs = Date.now() - t0;

    t0 = Date.now();
    stack.kill('scrap-2', 'SIGKILL');
    await row('scrap-2').waitFor({ state: 'detached', timeout: CRASH_BOUND_MS });
    const crashMs = Date.now() - t0;
    console.log(
      `browser: SIGTERM row gone after ${gracefulMs} ms, SIGKILL row gone after ${crashMs} ms (bound ${CRASH_BOUND_MS} ms)`,
    );
    await page.locator('[data-kind="instance-left"]').nth(1).waitFor({ timeout: 2_000 });
    expect(await page.locator('tr[data-instance="reservation-1"]').count()).toBe(1);

    // the screenshot with traffic on it: listings through the gateway, served by reservation
    const shot = path.join(stack.stateDir, 'dashboard.png');
    await withTraffic(`${gw}/api/listings?limit=3`, async () => {
      await rated('tr[data-service-total="reservation"]').waitFor({ timeout: 10_000 });
      await page.screenshot({ path: shot, fullPage: true });
    });
    console.log(`screenshot: ${shot} (kept with STAYLINE_KEEP_STATE=1)`);
    const wanted = process.env.DASHBOARD_SCREENSHOT;
    if (wanted) {
      fs.mkdirSync(path.dirname(path.resolve(wanted)), { recursive: true });
      fs.copyFileSync(shot, path.resolve(wanted));
    }
  });
  it('in the public view: no address, port, host name or version on the stream, the JSON or the page', async () => {
    const dashboard = await startService(stack, {
      service: 'dashboard',
      name: 'dashboard-2',
      tcpPort: 'none',
      entry: path.join(REPO_ROOT, 'apps', 'dashboard', 'src', 'main.ts'),
      env: { ...dashboardEnv(stack), DASHBOARD_VIEW: 'public' },
    });
    // read straight from it: through the gateway the two dashboards take turns
    const url = `http://127.0.0.1:${dashboard.port}`;
    const status = await stack.status();
    const ports = new Set(
      status.components.flatMap((c) => [c.port, ...Object.values(c.ports ?? {})]),
    );
    ports.delete(0);
    const hosts = [
      '127.0.0.1',
      'localhost',
      '::1',
      os.hostname(),
      ...status.components.map((c) => c.host),
    ];
    /** Every string and number in a JSON value, with the key it is under. */
    const leaves = (v: unknown, key = ''): Array<[string, unknown]> =>
      v !== null && typeof v === 'object'
        ? Object.entries(v).flatMap(([k, x]) => leaves(x, Array.isArray(v) ? key : k))
        : [[key, v]];
    // durations, counts and flag values may equal a port by chance; no other number may
    const counts = new Set([
      'lagMs',
      'totalMs',
      'retryAfterMs',
      'inFlight',
      'requestsPerS',
      'errorsPerS',
      'seq',
      'version',
    ]);
    const expectPublic = (what: string, data: unknown) => {
      const text = JSON.stringify(data);
      for (const host of hosts)
        expect({ what, host, found: text.includes(host) }).toMatchObject({ found: false });
      for (const [key, v] of leaves(data)) {
        if (typeof v === 'number' && !counts.has(key) && !key.includes('.'))
          expect({ what, key, v, port: ports.has(v) }).toMatchObject({ port: false });
        if (typeof v === 'string')
          for (const p of ports)
            expect({
              what,
              key,
              v,
              port: new RegExp(`(^|\\D)${p}(\\D|$)`).test(v) && !/^\\d{4}-\\d\\d-\\d\\dT/.test(v),
            }).toMatchObject({ port: false });
      }
      for (const key of ['host', 'httpPort', 'tcpPort', 'port', 'gtid'])
        expect({ what, key, found: text.includes(`"${key}":`) }).toMatchObject({ found: false });
    };

    const topology = await publishedTopology(stack);
    let got = await snapshot();
    await waitFor(
      'the public dashboard probed everything',
      async () => {
        const res = await fetch(`${url}/dashboard/snapshot`, {
          signal: AbortSignal.timeout(5_000),
        });
        got = (await res.json()) as typeof got;
        const s = got.snapshot;
        return (
          s.instances.some((i) => i.service === 'reservation' && i.health !== 'unknown') &&
          s.mariadb.nodes.length === 3 &&
          s.agents.leader !== undefined &&
          s.redis.nodes.length === 2 &&
          s.etcd.leader !== undefined
        );
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const s = got.snapshot;
    expect(s.view).toBe('public');
    expectPublic('GET /dashboard/snapshot', got);
    // what teaches stays: the services, health, the primary, the leader and its token, labels for the rest
    // (scrap's two instances were stopped above)
    expect(new Set(s.instances.map((i) => i.service))).toEqual(
      new Set(['auth', 'dashboard', 'payment', 'recommendation', 'reservation']),
    );
    expect(s.mariadb.primary).toBe(topology?.primary.name);
    expect(s.mariadb.nodes.find((n) => n.role === 'primary')?.name).toBe(topology?.primary.name);
    expect(s.agents.token).toBeGreaterThan(0);
    expect(s.redis.primary).toMatch(/^redis-\d$/);
    expect(s.etcd.leader).toMatch(/^etcd-\d$/);

    const stream = await openStream(`${url}/dashboard/events`);
    await waitFor('a snapshot and the timeline on the stream', async () =>
      stream.messages.some((m) => m.event === 'timeline'),
    );
    // and a pushed one: a registry change reaches the stream in its view too
    stack.kill('recommendation-2', 'SIGTERM');
    await waitFor('the stop pushed', async () =>
      stream.snapshots().some((m) => !m.s.instances.some((i) => i.id === 'recommendation-2')),
    );
    await stream.close();
    for (const m of stream.messages.filter((x) => x.data !== undefined))
      expectPublic(`SSE ${m.event}`, m.data);
    expect(stream.snapshots().every((m) => m.s.view === 'public')).toBe(true);

    const html = await (await fetch(`${url}/dashboard`)).text();
    for (const host of hosts)
      expect({ host, found: html.includes(host) }).toMatchObject({ found: false });

    // in a browser: the public view renders, no "undefined", no address
    browser ??= await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
    await page.goto(`${url}/dashboard`);
    await page.locator('tr[data-instance="reservation-1"]').waitFor({ timeout: 10_000 });
    await page.locator(`tr[data-node="${topology?.primary.name}"]`).waitFor({ timeout: 10_000 });
    const shown = await page.locator('body').innerText();
    expect(shown).not.toContain('undefined');
    expect(shown).not.toContain('NaN');
    expect(shown).not.toContain('127.0.0.1');
    expect(shown).toContain('public view');
    await page.screenshot({
      path: path.join(stack.stateDir, 'dashboard-public.png'),
      fullPage: true,
    });
  });
});
