import {
  FeatureFlags,
  flag,
  formatRedisTarget,
  RedisCoordinationBackend,
} from '@stayline/coordination';
import { eventually, freePorts, isAlive, isPortOpen, Stack, startStack } from '@stayline/stack-kit';
import { sentinelTarget, startFixture } from '../../testing/processes';
import { WatchRecorder } from '../../testing/resolver-contract';
import { BalancedTcpClient } from '../clients/balanced-tcp.client';
import { RedisRegistry } from '../redis.registry';

jest.setTimeout(60_000);

let stack: Stack;
let registry: RedisRegistry;
let coordination: RedisCoordinationBackend;
const ports = new Map<string, { http: number; tcp: number }>();

async function startCallee(service: string, id: string, extra: Record<string, string> = {}) {
  const [http, tcp] = await freePorts(2);
  ports.set(id, { http, tcp });
  await startFixture(stack, {
    name: id,
    script: 'callee.ts',
    args: { redis: formatRedisTarget(sentinelTarget(stack)), service, id, http, tcp, ...extra },
    ports: { http, tcp },
  });
}

beforeAll(async () => {
  stack = await startStack({ mariadb: false, sentinel: true, nginx: false });
  registry = new RedisRegistry({ redis: sentinelTarget(stack) });
  coordination = new RedisCoordinationBackend({ redis: sentinelTarget(stack) });
});
afterAll(async () => {
  await registry?.close();
  await coordination?.close();
  await stack?.stop();
});

describe('DiscoveryModule in a real NestJS hybrid service', () => {
  it('registers the instance once it listens, with its HTTP and TCP ports, and reports it to health and metrics', async () => {
    await startCallee('module', 'module-1');
    const [instance] = await eventually(
      'the registration',
      () => registry.list('module'),
      (l) => l.length === 1,
    );
    const { http, tcp } = ports.get('module-1') ?? { http: 0, tcp: 0 };
    expect(instance).toMatchObject({
      service: 'module',
      id: 'module-1',
      host: '127.0.0.1',
      kind: 'service',
      httpPort: http,
      tcpPort: tcp,
    });
    const ready = (await (await fetch(`http://127.0.0.1:${http}/health/ready`)).json()) as {
      status: string;
      details: Record<string, Record<string, unknown>>;
    };
    expect(ready.status).toBe('ok');
    expect(ready.details.discovery).toMatchObject({
      status: 'up',
      instance: 'module-1',
      registered: true,
    });
    expect(ready.details.flags).toMatchObject({ status: 'up', loaded: true });
    const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    expect(metrics).toMatch(/stayline_discovery_registered\{service="module"\} 1/);
  });

  it('on SIGTERM deregisters first, keeps serving what is in flight, and only then stops', async () => {
    await startCallee('drain', 'drain-1');
    await startCallee('drain', 'drain-2');
    const client = await BalancedTcpClient.connect({
      resolver: registry,
      service: 'drain',
      timeoutMs: 5_000,
    });
    await eventually(
      'both endpoints',
      () => client.endpoints.length,
      (n) => n === 2,
    );
    const rec = new WatchRecorder();
    const unwatch = await registry.watch('drain', rec.listener);

    const slow = client
      .sendTo<{ id: string }>('drain-1', 'slow', { ms: 1_500 })
      .then((r) => ({ ...r, at: performance.now() }));
    await new Promise((r) => setTimeout(r, 100)); // the call is in flight on drain-1
    const t0 = performance.now();
    stack.kill('drain-1', 'SIGTERM');
    const removed = await rec.waitFor(
      (c) => c.kind === 'removed' && c.id === 'drain-1' && c.reason === 'deregistered',
    );
    expect(removed.at - t0).toBeLessThan(500);
    // callers have moved on while drain-1 still finishes its work
    const during: string[] = [];
    for (let i = 0; i < 10; i++) during.push((await client.send<{ id: string }>('ping', {})).id);
    expect(new Set(during)).toEqual(new Set(['drain-2']));
    expect(isAlive(stack.component('drain-1').pid)).toBe(true);
    const answer = await slow; // the in-flight call was answered, not cut
    expect(answer.id).toBe('drain-1');
    expect(answer.at).toBeGreaterThan(removed.at);
    await eventually(
      'drain-1 to stop',
      () => isPortOpen(ports.get('drain-1')?.tcp ?? 0),
      (open) => !open,
    );
    unwatch();
    await client.close();
  });

  it('applies a flag change in every running instance without a restart', async () => {
    const writer = new FeatureFlags(coordination.flagStore());
    await writer.start();
    const client = await BalancedTcpClient.connect({ resolver: registry, service: 'drain' });
    await eventually(
      'an endpoint',
      () => client.endpoints.length,
      (n) => n >= 1,
    );
    await writer.set('payment.latencyMs', flag.number(250));
    const seen = await eventually(
      'the new value in the instance',
      () => client.send<{ value: unknown }>('flag', { name: 'payment.latencyMs' }),
      (r) => JSON.stringify(r.value) === JSON.stringify({ kind: 'number', value: 250 }),
      { timeoutMs: 2_000 },
    );
    expect(seen.value).toEqual({ kind: 'number', value: 250 });
    await writer.stop();
    await client.close();
  });

  it('campaigns in the configured election: one instance leads, and a stopping leader hands over at once', async () => {
    await startCallee('lead', 'lead-1', { election: 'nightly-job' });
    await startCallee('lead', 'lead-2', { election: 'nightly-job' });
    const client = await BalancedTcpClient.connect({ resolver: registry, service: 'lead' });
    await eventually(
      'both endpoints',
      () => client.endpoints.length,
      (n) => n === 2,
    );
    const tokens = () =>
      Promise.all(
        ['lead-1', 'lead-2'].map((id) =>
          client.sendTo<{ id: string; token: number | null }>(id, 'leader', {
            name: 'nightly-job',
          }),
        ),
      );
    const first = await eventually(
      'one leader',
      tokens,
      (ts) => ts.filter((t) => t.token !== null).length === 1,
    );
    const leader = first.find((t) => t.token !== null) as { id: string; token: number };
    const follower = first.find((t) => t.token === null) as { id: string };
    const t0 = Date.now();
    stack.kill(leader.id, 'SIGTERM');
    const next = await eventually(
      'the follower to lead',
      () => client.sendTo<{ token: number | null }>(follower.id, 'leader', { name: 'nightly-job' }),
      (r) => r.token !== null,
    );
    expect(Date.now() - t0).toBeLessThan(1_500); // resigned on shutdown, not left to expire (3 s)
    expect(next.token as number).toBeGreaterThan(leader.token);
    await client.close();
  });
});
