import { formatRedisTarget } from '@stayline/coordination';
import { Stack, startStack } from '@stayline/launcher';
import { sentinelTarget, startFixture } from '../testing/processes';
import {
  describeRegistryContract,
  describeResolverContract,
  WatchRecorder,
} from '../testing/resolver-contract';
import { describeInstance } from './instance';
import { RedisRegistry } from './redis.registry';
import { ServiceRegistry } from './registry';

jest.setTimeout(60_000);

// one stack for the whole file: the contract suites and the process tests share it
let stack: Stack;
const clients: ServiceRegistry[] = [];
// the expiry grace scales with the lease: the contract suite uses 600 ms leases
const open = async (expiryGraceMs?: number) => {
  const r = new RedisRegistry({ redis: sentinelTarget(stack), expiryGraceMs });
  clients.push(r);
  return r;
};

beforeAll(async () => {
  stack = await startStack({ mariadb: false, sentinel: true, nginx: false });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stack?.stop();
});

describeResolverContract('redis (through Sentinel)', async (world) => {
  const registry = await open();
  const registrations = await Promise.all(
    world.endpoints.map((e, i) =>
      registry.register(
        describeInstance({ service: world.service, id: `r-${i}`, host: e.host, tcpPort: e.port }),
      ),
    ),
  );
  return {
    resolver: await open(),
    teardown: async () => {
      await Promise.all(registrations.map((r) => r.deregister()));
    },
  };
});

describeRegistryContract('redis (through Sentinel)', async () => ({
  open: () => open(600),
  teardown: async () => undefined,
}));

describe('redis registry with real instance processes', () => {
  const TTL = 3_000; // the default lease
  const RENEW = TTL / 3;

  async function startInstance(name: string, extra: Record<string, string | number> = {}) {
    await startFixture(stack, {
      name,
      script: 'registrant.ts',
      args: {
        redis: formatRedisTarget(sentinelTarget(stack)),
        service: 'payment',
        id: name,
        tcp: 4201,
        ...extra,
      },
    });
  }

  /** Three independent watchers (own connections each), as three calling services would be. */
  async function watchers(service: string): Promise<WatchRecorder[]> {
    return Promise.all(
      [1, 2, 3].map(async () => {
        const rec = new WatchRecorder();
        await (await open()).watch(service, rec.listener);
        return rec;
      }),
    );
  }

  it('a graceful stop (SIGTERM) reaches every watcher in well under a second', async () => {
    await startInstance('payment-1');
    const recs = await watchers('payment');
    await Promise.all(recs.map((r) => r.waitFor((_, ids) => ids.includes('payment-1'))));
    const t0 = performance.now();
    stack.kill('payment-1', 'SIGTERM');
    const seen = await Promise.all(
      recs.map((r) => r.waitFor((c) => c.kind === 'removed' && c.id === 'payment-1')),
    );
    for (const s of seen) expect(s.at - t0).toBeLessThan(1_000);
    expect(seen.map((s) => s.ids)).toEqual([[], [], []]);
    const reasons = recs.map((r) => r.events.find((e) => e.change.kind === 'removed')?.change);
    expect(reasons).toEqual(
      Array(3).fill({ kind: 'removed', id: 'payment-1', reason: 'deregistered' }),
    );
  });

  it('a crashed instance (SIGKILL) is gone within the lease TTL plus one renewal period', async () => {
    await startInstance('payment-2');
    const recs = await watchers('payment');
    await Promise.all(recs.map((r) => r.waitFor((_, ids) => ids.includes('payment-2'))));
    const t0 = performance.now();
    stack.kill('payment-2', 'SIGKILL');
    const seen = await Promise.all(
      recs.map((r) => r.waitFor((c) => c.kind === 'removed' && c.id === 'payment-2', 10_000)),
    );
    for (const s of seen) {
      expect(s.at - t0).toBeLessThan(TTL + RENEW + 300);
      expect(s.at - t0).toBeGreaterThan(TTL - RENEW - 300); // it was the lease, not anything quicker
    }
  });

  it('a frozen instance (SIGSTOP) is gone within the lease TTL plus one renewal, and back after SIGCONT', async () => {
    await startInstance('payment-3');
    const [rec] = await watchers('payment');
    await rec.waitFor((_, ids) => ids.includes('payment-3'));
    const t0 = performance.now();
    stack.kill('payment-3', 'SIGSTOP');
    const gone = await rec.waitFor((c) => c.kind === 'removed' && c.id === 'payment-3', 10_000);
    expect(gone.at - t0).toBeLessThan(TTL + RENEW + 300);
    stack.kill('payment-3', 'SIGCONT');
    const back = await rec.waitFor(
      (c) => c.kind === 'added' && c.instance.id === 'payment-3',
      5_000,
      gone.at,
    );
    expect(back.ids).toEqual(['payment-3']);
    stack.kill('payment-3', 'SIGKILL');
  });

  it('a datastore stays registered when one of its two agents dies, and expires when both are gone', async () => {
    const datastore = { service: 'mariadb', id: 'mariadb-1', role: 'primary', tcp: 3407 };
    await startFixture(stack, {
      name: 'agent-a',
      kind: 'agent',
      script: 'registrant.ts',
      args: { redis: formatRedisTarget(sentinelTarget(stack)), ...datastore, agent: 'agent-a' },
    });
    await startFixture(stack, {
      name: 'agent-b',
      kind: 'agent',
      script: 'registrant.ts',
      args: { redis: formatRedisTarget(sentinelTarget(stack)), ...datastore, agent: 'agent-b' },
    });
    const [rec] = await watchers('mariadb');
    await rec.waitFor((_, ids) => ids.includes('mariadb-1'));
    stack.kill('agent-a', 'SIGKILL');
    await new Promise((r) => setTimeout(r, TTL + 2 * RENEW));
    expect(rec.latest.map((i) => [i.id, i.kind, i.role])).toEqual([
      ['mariadb-1', 'datastore', 'primary'],
    ]);
    expect(rec.events.some((e) => e.change.kind === 'removed')).toBe(false);
    const t0 = performance.now();
    stack.kill('agent-b', 'SIGKILL');
    const gone = await rec.waitFor(
      (c) => c.kind === 'removed' && c.id === 'mariadb-1' && c.reason === 'expired',
      10_000,
    );
    expect(gone.at - t0).toBeLessThan(TTL + RENEW + 300);
  });
});
