import { EtcdCoordinationBackend, FeatureFlags, flag } from '@stayline/coordination';
import { EtcdRegistry, RedisRegistry } from '@stayline/discovery';
import {
  adminToken,
  bearer,
  Component,
  Stack,
  startGatewaySync,
  startStack,
  waitFor,
  waitForGatewayUpstreams,
  startService,
  UserTokens,
} from '@stayline/stack-kit';

jest.setTimeout(180_000);

const ETCD = { DISCOVERY_BACKEND: 'etcd', COORDINATION_BACKEND: 'etcd' };
const day = (offset: number) =>
  new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

describe('services with DISCOVERY_BACKEND=etcd and COORDINATION_BACKEND=etcd (real processes, 3 etcd members)', () => {
  let stack: Stack;
  let pay: Component[];
  let reservation: string;
  let etcdRegistry: EtcdRegistry;
  let redisRegistry: RedisRegistry;
  let etcdBackend: EtcdCoordinationBackend;
  let flags: FeatureFlags;
  let tokens: UserTokens;
  const http = (c: Component) => `http://127.0.0.1:${c.ports.http}`;

  beforeAll(async () => {
    stack = await startStack({ replicas: 1, etcd: true });
    // the services verify callers' tokens with the keys of the auth instances the registry lists
    await startService(stack, { service: 'auth', tcpPort: 'none', env: ETCD });
    tokens = UserTokens.of(stack);
    pay = await Promise.all([
      startService(stack, { service: 'payment', name: 'payment-1', env: ETCD }),
      startService(stack, { service: 'payment', name: 'payment-2', env: ETCD }),
    ]);
    const env = { ...ETCD, PAYMENT_TIMEOUT_MS: '2000' };
    reservation = http(await startService(stack, { service: 'reservation', env }));
    await startGatewaySync(stack, { env: { DISCOVERY_BACKEND: 'etcd' } });
    etcdRegistry = new EtcdRegistry({ etcd: stack.etcdTarget() });
    redisRegistry = new RedisRegistry({ redis: stack.redisTarget('service') });
    etcdBackend = new EtcdCoordinationBackend({ etcd: stack.etcdTarget() });
    flags = new FeatureFlags(etcdBackend.flagStore());
    await flags.start();
  });

  afterAll(async () => {
    await flags?.stop();
    await Promise.all([etcdRegistry?.close(), redisRegistry?.close(), etcdBackend?.close()]);
    await stack?.stop();
  });

  it('registers in etcd, not in Redis, and the caller reaches the callee through it', async () => {
    expect((await etcdRegistry.list('payment')).map((i) => i.id)).toEqual([
      'payment-1',
      'payment-2',
    ]);
    expect((await etcdRegistry.list('reservation')).length).toBe(1);
    expect((await etcdRegistry.list('auth')).length).toBe(1);
    expect(await redisRegistry.list('payment')).toEqual([]);

    const res = await fetch(`${reservation}/api/reservations`, {
      method: 'POST',
      headers: {
        ...(await tokens.headers('alice')),
        'content-type': 'application/json',
        'idempotency-key': `etcd-${Date.now()}`,
      },
      body: JSON.stringify({
        listingId: 'seoul-01',
        checkIn: day(20),
        checkOut: day(21),
        guests: 1,
      }),
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ status: 'CONFIRMED', paymentId: expect.any(String) });
  });

  it('the gateway sync reads the same registry: nginx routes to the instances etcd lists', async () => {
    const { upstreams } = await waitForGatewayUpstreams(stack, { payment: 2, reservation: 1 });
    expect(upstreams.payment.sort()).toEqual(pay.map((p) => `127.0.0.1:${p.ports.http}`).sort());
  });

  it('applies a flag written to etcd, and writes the admin endpoint flags there', async () => {
    const alice = await tokens.headers('alice');
    const lookup = (p: Component) =>
      fetch(`${http(p)}/api/payments?reservationId=none`, { headers: alice });
    expect((await lookup(pay[0])).status).toBe(200);
    await flags.set('fault.payment-1.get.errorRate', flag.number(1));
    await waitFor('payment-1 to apply the flag', async () => (await lookup(pay[0])).status === 503);
    expect((await lookup(pay[1])).status).toBe(200);
    await flags.set('fault.payment-1.get.errorRate', null);
    await waitFor('payment-1 to drop it', async () => (await lookup(pay[0])).status === 200);

    const put = await fetch(`${reservation}/admin/flags/etcd.written`, {
      method: 'PUT',
      headers: { ...bearer(await adminToken(stack)), 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'boolean', enabled: true }),
    });
    expect(put.status).toBe(200);
    await waitFor('the flag in etcd', async () => flags.isEnabled('etcd.written'));
  });
});
