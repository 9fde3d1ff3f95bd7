import { ServiceInstance } from '../instance';
import { ServiceResolver, WatchListener } from '../registry';
import { BalancedHttpClient } from './balanced-http.client';
import { NoEndpointError } from './errors';

const instance: ServiceInstance = {
  service: 'payment',
  id: 'payment-1',
  host: '127.0.0.1',
  httpPort: 4201,
  kind: 'service',
  version: 'test',
  startedAt: new Date(0).toISOString(),
  metadata: {},
};

/** A resolver whose watch fails as ioredis does while Redis is too slow, `failures` times. */
function slowResolver(failures: number): ServiceResolver & { attempts: number } {
  const r = {
    attempts: 0,
    list: async () => [instance],
    close: async () => undefined,
    watch: async (_service: string, listener: WatchListener) => {
      r.attempts += 1;
      if (r.attempts <= failures) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        throw new Error('Command timed out');
      }
      listener([instance], { kind: 'snapshot' });
      return () => undefined;
    },
  };
  return r;
}

const waitUntil = async (check: () => boolean, timeoutMs = 2_000) => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe('BalancedClient start while the resolver cannot be watched yet', () => {
  it('does not reject on a watch timeout: it starts without endpoints and keeps trying', async () => {
    const resolver = slowResolver(3);
    const client = await BalancedHttpClient.connect({
      resolver,
      service: 'payment',
      startWaitMs: 30,
      watchRetryMs: 20,
    });
    expect(client.endpoints).toEqual([]);
    await expect(client.request('/x')).rejects.toBeInstanceOf(NoEndpointError);
    await waitUntil(() => client.endpoints.length === 1);
    expect(resolver.attempts).toBe(4);
    expect(client.endpoints[0]).toMatchObject({ id: 'payment-1', port: 4201 });
    await client.close();
  });

  it('resolves with the first list when the watch answers in time', async () => {
    const client = await BalancedHttpClient.connect({
      resolver: slowResolver(1),
      service: 'payment',
      startWaitMs: 1_000,
      watchRetryMs: 10,
    });
    expect(client.endpoints.map((e) => e.id)).toEqual(['payment-1']);
    await client.close();
  });

  it('stops retrying once closed, and drops a watch that comes in after', async () => {
    const resolver = slowResolver(Infinity);
    const client = await BalancedHttpClient.connect({
      resolver,
      service: 'payment',
      startWaitMs: 10,
      watchRetryMs: 10,
    });
    await client.close();
    const attempts = resolver.attempts;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(resolver.attempts).toBeLessThanOrEqual(attempts + 1);
  });

  it('still refuses a malformed service name at once', () => {
    expect(() =>
      BalancedHttpClient.connect({ resolver: slowResolver(0), service: 'Not A Name!' }),
    ).toThrow();
  });
});
