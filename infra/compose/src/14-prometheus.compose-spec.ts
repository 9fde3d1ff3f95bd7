/**
 * Prometheus in the compose stack (docs/observability.md, docs/docker.md): healthy on
 * loopback; scraping every registered instance of the services with its `job` (the
 * service) and `instance` (its id) labels, found through the gateway sync's
 * `/sd/prometheus` on the compose network, and the agents and etcd members, all up;
 * stayline's rules loaded from the image; the dashboard reaching it at PROMETHEUS_URL;
 * and one more reservation instance (`--scale`) scraped within the discovery's refresh,
 * with no reload of Prometheus' configuration and no restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { HttpClient, waitFor } from '@stayline/stack-kit';
import { ComposeStack, REPO_ROOT } from './lib/compose-stack';

jest.setTimeout(240_000);

const stack = ComposeStack.fromEnv();
const P = stack.prometheus;
const http = new HttpClient();
afterAll(() => http.close());

/** The services whose instances register (and so are scraped through the sync's discovery). */
const SERVICES = ['reservation', 'payment', 'recommendation', 'auth', 'scrap'];

interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

async function api<T>(route: string): Promise<T> {
  const r = await http.request(`${P}${route}`);
  if (r.status !== 200) throw new Error(`GET ${route}: ${r.status}`);
  return r.json<{ status: string; data: T }>().data;
}

const targets = () =>
  api<{ activeTargets: Target[] }>('/api/v1/targets?state=active').then((d) => d.activeTargets);
const key = (t: { labels: Record<string, string> }) => `${t.labels.job}/${t.labels.instance}`;

/** The gateway sync's own answer, asked inside its container (its port is not published). */
async function discovered(): Promise<Array<{ targets: string[]; labels: Record<string, string> }>> {
  const out = await stack.exec('gateway', [
    'node',
    '-e',
    "fetch('http://127.0.0.1:8081/sd/prometheus').then((r) => r.text()).then((t) => process.stdout.write(t))",
  ]);
  return JSON.parse(out) as Array<{ targets: string[]; labels: Record<string, string> }>;
}

/** Waits until every one of `expected` (job/instance) is an active target that is up. */
async function allUp(expected: string[], timeoutMs = 60_000): Promise<Target[]> {
  let now: Target[] = [];
  try {
    await waitFor(
      `${expected.length} targets up`,
      async () => {
        now = await targets();
        const byKey = new Map(now.map((t) => [key(t), t]));
        return expected.every((k) => byKey.get(k)?.health === 'up');
      },
      { timeoutMs, intervalMs: 1_000 },
    );
  } catch (err) {
    const byKey = new Map(now.map((t) => [key(t), t]));
    const missing = expected
      .filter((k) => byKey.get(k)?.health !== 'up')
      .map(
        (k) =>
          `${k}: ${byKey.get(k) ? `${byKey.get(k)?.health} ${byKey.get(k)?.lastError}` : 'no target'}`,
      );
    throw new Error(`${(err as Error).message}\n${missing.join('\n')}`);
  }
  return now;
}

describe('Prometheus in containers', () => {
  it('is healthy, published on loopback', async () => {
    const healthy = await http.request(`${P}/-/healthy`);
    expect(healthy.status).toBe(200);
    expect((await http.request(`${P}/-/ready`)).status).toBe(200);
    expect((await stack.container('prometheus')).health).toBe('healthy');
    expect(new URL(P).hostname).toBe('127.0.0.1');
  });

  it('scrapes every registered instance with its job and instance, the agents and etcd, all up', async () => {
    const fixed = SERVICES.flatMap((s) => [1, 2].map((i) => `${s}/${s}-${i}`));
    const statics = [
      ...[1, 2].map((i) => `failover-agent/failover-agent-${i}`),
      ...[1, 2, 3].map((i) => `etcd/etcd-${i}`),
    ];
    // what the sync lists: the fixed instances and any `--scale` copy an earlier suite added
    const sd = await discovered();
    const listed = sd.map(key);
    expect(listed).toEqual(expect.arrayContaining(fixed));
    // at the names or addresses they registered, which resolve on the compose network
    for (const g of sd) expect(g.targets).toEqual([expect.stringMatching(/^[\w.-]+:3000$/)]);
    const now = await allUp([...listed, ...statics]);
    for (const t of now.filter((x) => SERVICES.includes(x.labels.job)))
      expect({ target: key(t), scrapeUrl: t.scrapeUrl }).toEqual({
        target: key(t),
        scrapeUrl: `http://${sd.find((g) => key(g) === key(t))?.targets[0]}/metrics`,
      });
    for (const i of [1, 2])
      expect(now.find((t) => key(t) === `failover-agent/failover-agent-${i}`)?.scrapeUrl).toBe(
        `http://failover-agent-${i}:3000/metrics`,
      );
    for (const i of [1, 2, 3])
      expect(now.find((t) => key(t) === `etcd/etcd-${i}`)?.scrapeUrl).toBe(
        `http://etcd-${i}:2379/metrics`,
      );
    // and nothing else: no target that does not belong to the stack
    expect(now.map(key).sort()).toEqual([...listed, ...statics].sort());
  });

  it('has loaded stayline’s rules, the repository’s file, and evaluates them', async () => {
    const file = load(
      fs.readFileSync(path.join(REPO_ROOT, 'infra/prometheus/rules/stayline.rules.yml'), 'utf8'),
    ) as { groups: Array<{ rules: Array<{ alert?: string; record?: string }> }> };
    const names = file.groups.flatMap((g) => g.rules.map((r) => r.alert ?? r.record)).sort();
    expect(names).toEqual(expect.arrayContaining(['StaylineBreakerOpen', 'StaylineInstanceDown']));
    type Rule = { name: string; health: string; lastError?: string };
    let loaded: Array<{ file: string; rules: Rule[] }> = [];
    await waitFor(
      'every rule evaluated once',
      async () => {
        loaded = (await api<{ groups: Array<{ file: string; rules: Rule[] }> }>('/api/v1/rules'))
          .groups;
        return loaded.flatMap((g) => g.rules).every((r) => r.health === 'ok');
      },
      { timeoutMs: 30_000, intervalMs: 1_000 },
    );
    expect(loaded.flatMap((g) => g.rules.map((r) => r.name)).sort()).toEqual(names);
    expect([...new Set(loaded.map((g) => g.file))]).toEqual([
      '/etc/stayline/rules/stayline.rules.yml',
    ]);
  });

  it('answers the dashboard at its PROMETHEUS_URL, on the compose network', async () => {
    const out = await stack.exec('dashboard-1', [
      'node',
      '-e',
      "fetch(process.env.PROMETHEUS_URL + '/-/ready').then((r) => process.stdout.write(`${process.env.PROMETHEUS_URL} ${r.status}`))",
    ]);
    expect(out).toBe('http://prometheus:9090 200');
  });

  it('scrapes a reservation instance added with --scale within the discovery’s refresh, without a reload', async () => {
    type Runtime = { lastConfigTime: string; reloadConfigSuccess: boolean };
    const config = await api<Runtime>('/api/v1/status/runtimeinfo');
    const before = await stack.containers();
    const prometheusStart = before.find((c) => c.service === 'prometheus')?.startedAt;
    const scaled = before.filter(
      (c) => c.service === 'reservation-scaled' && c.state === 'running',
    );
    const up = await stack.scale({ 'reservation-scaled': scaled.length + 1 });
    expect(up.code).toBe(0);
    await stack.waitHealthy(120_000);
    const added = (await stack.containers()).filter(
      (c) => c.service === 'reservation-scaled' && !before.some((b) => b.id === c.id),
    );
    expect(added).toHaveLength(1);
    const [fresh] = added;
    // registered under an id naming its host (the container's short id) and its own address
    let target: Target | undefined;
    const took = await waitFor(
      `a target for ${fresh.name}`,
      async () => {
        target = (await targets()).find(
          (t) =>
            t.labels.job === 'reservation' &&
            t.labels.instance.startsWith(`reservation-${fresh.id.slice(0, 12)}-`) &&
            t.health === 'up',
        );
        return !!target;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    console.log(`${fresh.name}: scraped ${(took / 1000).toFixed(1)} s after it was healthy`);
    expect(target?.scrapeUrl).toBe(`http://${fresh.ip}:3000/metrics`);
    // the same configuration, loaded once, by the same process
    expect(await api<Runtime>('/api/v1/status/runtimeinfo')).toMatchObject({
      lastConfigTime: config.lastConfigTime,
      reloadConfigSuccess: true,
    });
    expect((await stack.container('prometheus')).startedAt).toBe(prometheusStart);
  });
});
