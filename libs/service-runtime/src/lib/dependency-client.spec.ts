import {
  InstanceChange,
  ServiceInstance,
  ServiceResolver,
  WatchListener,
} from '@stayline/discovery';
import { freePorts } from '@stayline/stack-kit';
import { RequestContext } from '@stayline/observability';
import { BreakerState } from '@stayline/resilience';
import { DependencyClient } from './dependency-client';
import { CALL_CONTEXT_FIELD } from './rpc-context';

/** A resolver whose list the test changes by hand, as a registry watch would. */
function handResolver(initial: ServiceInstance[]) {
  let listener: WatchListener | undefined;
  let list = initial;
  const resolver: ServiceResolver = {
    list: async () => list,
    watch: async (_service, l) => {
      listener = l;
      l(list, { kind: 'snapshot' });
      return () => (listener = undefined);
    },
    close: async () => undefined,
  };
  const set = (next: ServiceInstance[], change: InstanceChange = { kind: 'resync' }) => {
    list = next;
    listener?.(next, change);
  };
  return { resolver, set };
}

const instance = (id: string, tcpPort: number): ServiceInstance => ({
  service: 'payment',
  id,
  host: '127.0.0.1',
  tcpPort,
  version: '1',
  startedAt: new Date().toISOString(),
  kind: 'service',
  metadata: {},
});

describe('DependencyClient', () => {
  it('drops the breaker of an instance that left discovery: the state speaks of the ones there', async () => {
    // nothing listens on these ports: every call is refused at once
    const [gone, b, c] = await freePorts(3);
    const { resolver, set } = handResolver([instance('payment-1', gone)]);
    const client = await DependencyClient.connect({
      resolver,
      service: 'payment',
      policy: {
        name: 'payment',
        essential: true,
        timeoutMs: 1_000,
        breaker: { kind: 'consecutive', threshold: 1 },
      },
    });
    try {
      client.policy.endpoint('payment-1'); // known and closed when it leaves
      set([instance('payment-2', b), instance('payment-3', c)]);
      for (let i = 0; i < 4; i++) await client.send('charge', {}).catch(() => undefined);

      const snapshot = client.policy.snapshot();
      expect(Object.keys(snapshot.endpoints).sort()).toEqual(['payment-2', 'payment-3']);
      expect(snapshot.endpoints['payment-2'].state).toBe(BreakerState.Open);
      expect(snapshot.endpoints['payment-3'].state).toBe(BreakerState.Open);
      // every instance that is there is open: so is the dependency, with their Retry-After
      expect(client.policy.state).toBe(BreakerState.Open);
      expect(client.policy.retryAfterMs()).toBeGreaterThan(10_000);
    } finally {
      await client.close();
    }
  });

  it("sends the caller's request id and consistency token with sendOr exactly as with send", async () => {
    const [port] = await freePorts(1);
    const { resolver } = handResolver([instance('recommendation-1', port)]);
    const client = await DependencyClient.connect({
      resolver,
      service: 'recommendation',
      policy: { name: 'recommendation', essential: false },
    });
    try {
      // the wire is stubbed: what matters is the message handed to it
      const sent = jest.spyOn(client.tcp, 'sendTo').mockResolvedValue(['l-2', 'l-1']);
      const ctx = { requestId: 'req-7', consistencyToken: '0-1-42' };
      const data = { listingIds: ['l-1', 'l-2'] };
      await RequestContext.run(ctx, async () => {
        await client.send('rank', data, { idempotent: true });
        await expect(
          client.sendOr('rank', data, { idempotent: true }, () => data.listingIds),
        ).resolves.toEqual({ value: ['l-2', 'l-1'], degraded: false });
      });

      const [viaSend, viaSendOr] = sent.mock.calls.map(([, , message]) => message);
      expect(viaSend).toEqual({ ...data, [CALL_CONTEXT_FIELD]: ctx });
      expect(viaSendOr).toEqual(viaSend);
    } finally {
      await client.close();
    }
  });
});
