/**
 * A real Prometheus (Debian's package) on a real stack evaluates stayline's rules
 * (infra/prometheus/rules): its targets follow the registry through the gateway
 * sync's HTTP service discovery, a real breaker opening fires StaylineBreakerOpen,
 * a real lagging replica fires StaylineReplicaLagging, a frozen failover agent
 * fires StaylineInstanceDown, and each ends when its cause does; a real failover
 * fires StaylineFailoverHappened; the primary left without a semi-sync replica fires
 * StaylineSemiSyncClientsBelowRequired and StaylineSemiSyncDegraded until one attaches
 * again. Scrapes and rule evaluations every second.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { clearFlag, setFlag } from '@stayline/demo';
import {
  adminConnection,
  agentHealth,
  HttpClient,
  isAlive,
  prometheusAlerts,
  prometheusTargets,
  type PrometheusAlert,
  publishedTopology,
  Stack,
  startPrometheus,
  startFailoverAgents,
  startServices,
  startStack,
  UserTokens,
  waitFor,
} from '@stayline/stack-kit';

const SERVICES = ['auth', 'payment', 'recommendation', 'reservation'];

async function onNode(stack: Stack, node: string, sql: string): Promise<void> {
  const conn = await adminConnection(stack.component(node), stack.credentials);
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

/** Waits until `match` holds for a firing alert named `name`; resolves it. */
async function firing(
  stack: Stack,
  name: string,
  match: (a: PrometheusAlert) => boolean,
  timeoutMs: number,
): Promise<PrometheusAlert> {
  let found: PrometheusAlert | undefined;
  await waitFor(
    `${name} to fire`,
    async () => {
      found = (await prometheusAlerts(stack)).find(
        (a) => a.labels['alertname'] === name && a.state === 'firing' && match(a),
      );
      return !!found;
    },
    { timeoutMs, intervalMs: 500 },
  );
  return found as PrometheusAlert;
}

async function silent(stack: Stack, name: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `${name} to end`,
    async () => !(await prometheusAlerts(stack)).some((a) => a.labels['alertname'] === name),
    { timeoutMs, intervalMs: 500 },
  );
}

describe('Prometheus on the stack: targets from the registry, alerts from real faults', () => {
  let stack: Stack;
  const http = new HttpClient({ maxSockets: 8 });

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, sentinel: true, nginx: true, etcd: true });
    await startFailoverAgents(stack, { count: 2 });
    await startServices(stack, { instances: 1, services: SERVICES });
    await startPrometheus(stack, { intervalS: 1 });
  }, 240_000);

  afterAll(async () => {
    http.close();
    await stack?.stop();
  }, 60_000);

  it('scrapes every instance the registry holds, labelled with its service and id', async () => {
    const wanted = stack
      .byKind('service')
      .filter((c) => SERVICES.includes(String(c.meta?.service)));
    expect(wanted).toHaveLength(SERVICES.length);
    let targets: Awaited<ReturnType<typeof prometheusTargets>> = [];
    await waitFor(
      'every instance to be scraped',
      async () => {
        targets = (await prometheusTargets(stack)).filter((t) =>
          SERVICES.includes(t.labels['job']),
        );
        return targets.length === wanted.length && targets.every((t) => t.health === 'up');
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(targets)}`);
    });
    for (const c of wanted) {
      const t = targets.find((x) => x.scrapeUrl === `http://${c.host}:${c.port}/metrics`);
      expect(t?.labels['job']).toBe(c.meta?.service);
      expect(t?.labels['instance']).toMatch(new RegExp(`^${String(c.meta?.service)}-`));
    }
  }, 60_000);

  it('fires StaylineBreakerOpen when recommendation hangs, and ends it once the breaker closes', async () => {
    const headers = await UserTokens.of(stack).headers('prom-e2e');
    const page = () =>
      http.request(`${stack.nginx.url}/api/listings?limit=5`, { headers }).catch(() => undefined);
    await setFlag(stack, 'fault.recommendation.all.latencyMs', { kind: 'number', value: 5_000 });
    let stop = false;
    // a page every 100 ms: the breaker opens after three timeouts, trial calls keep it open
    const load = (async () => {
      while (!stop) await Promise.all([page(), sleep(100)]);
    })();
    try {
      const alert = await firing(
        stack,
        'StaylineBreakerOpen',
        (a) => a.labels['job'] === 'reservation' && a.labels['dependency'] === 'recommendation',
        90_000,
      );
      expect(alert.labels['severity']).toBe('warning');
      expect(alert.annotations['summary']).toContain('breaker towards recommendation/');
    } finally {
      await clearFlag(stack, 'fault.recommendation.all.latencyMs');
    }
    try {
      // after its reset time the breaker lets a trial through, which now succeeds
      await silent(stack, 'StaylineBreakerOpen', 90_000);
    } finally {
      stop = true;
      await load;
    }
  }, 200_000);

  it('fires StaylineReplicaLagging for a replica that stops applying, and ends it once it catches up', async () => {
    const lagging = stack.mariadb.replicas[0].name;
    // a trickle of writes on the primary: GTIDs the stopped replica does not apply
    await stack.query(
      'reservation',
      'CREATE TABLE IF NOT EXISTS prometheus_e2e (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(3))',
    );
    let stop = false;
    const writes = (async () => {
      while (!stop) {
        await stack.query('reservation', 'INSERT INTO prometheus_e2e (at) VALUES (NOW(3))');
        await sleep(50);
      }
    })();
    await onNode(stack, lagging, 'STOP SLAVE SQL_THREAD');
    try {
      const alert = await firing(
        stack,
        'StaylineReplicaLagging',
        (a) => a.labels['replica'] === lagging,
        60_000,
      );
      expect(alert.labels['severity']).toBe('warning');
      expect(
        (await prometheusAlerts(stack)).filter(
          (a) =>
            a.labels['alertname'] === 'StaylineReplicaLagging' && a.labels['replica'] !== lagging,
        ),
      ).toEqual([]);
    } finally {
      await onNode(stack, lagging, 'START SLAVE SQL_THREAD');
    }
    try {
      await silent(stack, 'StaylineReplicaLagging', 60_000);
    } finally {
      stop = true;
      await writes;
    }
  }, 150_000);

  it('fires StaylineInstanceDown for a frozen failover agent (a static target), and ends it when it thaws', async () => {
    const agents = stack.byKind('agent').filter((c) => c.meta?.service === 'failover-agent');
    const roles = await Promise.all(agents.map((a) => agentHealth(stack, a.name)));
    // the follower: freezing the leader would start an election, not this test's point
    const follower = agents[roles.findIndex((r) => r.role !== 'leader')];
    stack.kill(follower.name, 'SIGSTOP');
    try {
      const alert = await firing(
        stack,
        'StaylineInstanceDown',
        (a) => a.labels['instance'] === follower.name,
        60_000,
      );
      expect(alert.labels).toMatchObject({ job: 'failover-agent', severity: 'page' });
    } finally {
      stack.kill(follower.name, 'SIGCONT');
    }
    await silent(stack, 'StaylineInstanceDown', 30_000);
  }, 120_000);

  it('fires StaylineFailoverHappened when the MariaDB primary is killed and an agent fails it over', async () => {
    const old = stack.mariadb.primary.name;
    stack.kill(old, 'SIGKILL');
    const alert = await firing(
      stack,
      'StaylineFailoverHappened',
      (a) => a.labels['kind'] === 'failover',
      60_000,
    );
    expect(alert.labels['severity']).toBe('info');
    expect(alert.annotations['summary']).toBe('A MariaDB failover ran in the last 10 minutes');
  }, 90_000);

  it('fires the semi-sync alerts while the primary has no semi-sync replica, and ends them when one attaches', async () => {
    const topology = await publishedTopology(stack);
    const replicas = (topology?.replicas ?? [])
      .map((r) => r.name)
      .filter((name) => isAlive(stack.component(name).pid));
    expect(replicas.length).toBeGreaterThan(0);
    // no write is sent meanwhile: with AFTER_SYNC and no fallback it would wait, then fail
    for (const r of replicas) await onNode(stack, r, 'STOP SLAVE IO_THREAD');
    try {
      const clients = await firing(
        stack,
        'StaylineSemiSyncClientsBelowRequired',
        () => true,
        60_000,
      );
      expect(clients.labels['severity']).toBe('page');
      const degraded = await firing(stack, 'StaylineSemiSyncDegraded', () => true, 30_000);
      expect(degraded.labels['reason']).toBe('no-replica-attached');
    } finally {
      for (const r of replicas) await onNode(stack, r, 'START SLAVE IO_THREAD');
    }
    await silent(stack, 'StaylineSemiSyncClientsBelowRequired', 60_000);
    await silent(stack, 'StaylineSemiSyncDegraded', 60_000);
  }, 200_000);
});
