import { setTimeout as sleep } from 'node:timers/promises';
import { formatRedisTarget } from '@stayline/coordination';
import { Stack, startStack, waitFor } from '@stayline/stack-kit';
import { sentinelTarget } from '../testing/processes';
import {
  describeRegistryProcessContract,
  REDIS_EXPIRY,
} from '../testing/registry-process-contract';
import {
  describeRegistryContract,
  describeResolverContract,
  registeredWorld,
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

describeResolverContract('redis (through Sentinel)', registeredWorld(open));

describeRegistryContract('redis (through Sentinel)', async () => ({
  open: () => open(600),
  teardown: async () => undefined,
}));

describeRegistryProcessContract('redis (through Sentinel)', async () => ({
  stack,
  backend: { redis: formatRedisTarget(sentinelTarget(stack)) },
  open: () => open(),
  expiry: REDIS_EXPIRY,
}));

describe('redis: a reader that does not sweep leases (the gateway sync, the dashboard)', () => {
  it('drops an instance whose lease ran out from its own view at the deadline, and keeps the renewed ones', async () => {
    const service = `reader-${Date.now()}`;
    const writer = await open(300);
    const reader = new RedisRegistry({
      redis: sentinelTarget(stack),
      sweepLeases: false,
      expiryGraceMs: 300,
    });
    clients.push(reader);
    const instance = (id: string) =>
      describeInstance({ service, id, host: '127.0.0.1', httpPort: 4100 });
    const lapsing = await writer.register(instance('lapsing'), { ttlMs: 600 });
    await writer.register(instance('renewed'), { ttlMs: 600 });
    const removed: Array<{ id: string; reason: string; at: number }> = [];
    let ids: string[] = [];
    await reader.watch(service, (list, change) => {
      ids = list.map((i) => i.id).sort();
      if (change.kind === 'removed')
        removed.push({ id: change.id, reason: change.reason, at: Date.now() });
    });
    expect(ids).toEqual(['lapsing', 'renewed']);
    await sleep(400); // past the new watch's grace
    const stoppedAt = Date.now();
    await lapsing.release(); // no more renewals, no removal: only the lease ends it
    await waitFor('the reader to drop the lapsed instance', () => removed.length > 0, {
      timeoutMs: 5_000,
      intervalMs: 10,
    });
    expect(removed).toEqual([{ id: 'lapsing', reason: 'expired', at: expect.any(Number) }]);
    // the lease was at most 600 ms ahead when renewals stopped; a sweep follows its deadline
    expect(removed[0].at - stoppedAt).toBeLessThan(600 + 1_000);
    expect(ids).toEqual(['renewed']);
    await sleep(1_500); // more sweeps: the renewed one stays, nothing is removed twice
    expect(ids).toEqual(['renewed']);
    expect(removed).toHaveLength(1);
  });
});
