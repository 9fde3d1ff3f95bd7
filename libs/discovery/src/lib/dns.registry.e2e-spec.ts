import { Dnsmasq, freePorts, startDnsmasq } from '@stayline/stack-kit';
import { describeResolverContract, WatchRecorder } from '../testing/resolver-contract';
import { DnsResolver } from './dns.registry';

jest.setTimeout(60_000);

const DOMAIN = 'stayline.test';

describeResolverContract('DNS SRV (dnsmasq)', async (world) => {
  const [port] = await freePorts(1);
  const server = await startDnsmasq({
    port,
    domain: DOMAIN,
    ttlS: 2,
    hosts: world.endpoints.map((e, i) => `${e.host} ${world.service}-${i}.${DOMAIN}`),
    srv: world.endpoints.map(
      (e, i) => `_${world.service}._tcp.${DOMAIN},${world.service}-${i}.${DOMAIN},${e.port}`,
    ),
  });
  const resolver = new DnsResolver({ domain: DOMAIN, servers: [server.server] });
  return {
    resolver,
    teardown: async () => {
      await resolver.close();
      await server.stop();
    },
  };
});

describe('DNS A records (dnsmasq): the TTL problem', () => {
  const TTL_S = 2;
  let server: Dnsmasq;
  let resolver: DnsResolver;

  beforeAll(async () => {
    const [port] = await freePorts(1);
    server = await startDnsmasq({
      port,
      domain: DOMAIN,
      ttlS: TTL_S,
      hosts: [`127.0.0.1 payment.${DOMAIN}`, `127.0.0.2 payment.${DOMAIN}`],
    });
    resolver = new DnsResolver({ domain: DOMAIN, mode: 'a', port: 4201, servers: [server.server] });
  });
  afterAll(async () => {
    await resolver?.close();
    await server?.stop();
  });

  it('keeps returning a removed (dead) address until the TTL runs out; a watch only sees it go then', async () => {
    const rec = new WatchRecorder();
    const unwatch = await resolver.watch('payment', rec.listener);
    expect(rec.latest.map((i) => i.host).sort()).toEqual(['127.0.0.1', '127.0.0.2']);
    const removedAt = performance.now();
    server.setHosts([`127.0.0.1 payment.${DOMAIN}`]); // 127.0.0.2 died and was taken out of DNS
    await new Promise((r) => setTimeout(r, 300));
    expect((await resolver.list('payment')).map((i) => i.host).sort()).toEqual([
      '127.0.0.1',
      '127.0.0.2',
    ]); // still cached
    const gone = await rec.waitFor(
      (c, ids) => c.kind === 'resync' && ids.length === 1,
      3 * TTL_S * 1_000,
    );
    expect(gone.at - removedAt).toBeLessThan(TTL_S * 1_000 + 1_500);
    expect((await resolver.list('payment')).map((i) => i.host)).toEqual(['127.0.0.1']);
    unwatch();
  });

  it('honours the TTL the server gives (no new lookup before it runs out)', async () => {
    const fresh = new DnsResolver({
      domain: DOMAIN,
      mode: 'a',
      port: 4201,
      servers: [server.server],
    });
    expect((await fresh.list('payment')).map((i) => i.host)).toEqual(['127.0.0.1']);
    server.setHosts([`127.0.0.1 payment.${DOMAIN}`, `127.0.0.3 payment.${DOMAIN}`]);
    await new Promise((r) => setTimeout(r, 200));
    expect((await fresh.list('payment')).map((i) => i.host)).toEqual(['127.0.0.1']); // within the TTL: cached
    await new Promise((r) => setTimeout(r, TTL_S * 1_000));
    expect((await fresh.list('payment')).map((i) => i.host).sort()).toEqual([
      '127.0.0.1',
      '127.0.0.3',
    ]);
    await fresh.close();
  });

  it('answers "no instances" for a name DNS does not know', async () => {
    expect(await resolver.list('nobody')).toEqual([]);
  });
});
