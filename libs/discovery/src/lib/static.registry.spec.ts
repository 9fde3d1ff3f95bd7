import net from 'node:net';
import { describeResolverContract } from '../testing/resolver-contract';
import { StaticResolver } from './static.registry';

describeResolverContract('static list', async (world) => ({
  resolver: new StaticResolver({
    services: `${world.service}=${world.endpoints.map((e) => `${e.host}:${e.port}`).join(',')}`,
  }),
  teardown: async () => undefined,
}));

describe('static list: its documented limits', () => {
  it('reads the seed’s config format, one service per line or separated by ";"', async () => {
    const r = new StaticResolver({
      services:
        '# payment instances\npayment=127.0.0.1:4201,127.0.0.1:4202\nrecommendation=127.0.0.1:4301;scrap=127.0.0.1:4401',
    });
    expect((await r.list('payment')).map((i) => i.tcpPort)).toEqual([4201, 4202]);
    expect((await r.list('scrap')).map((i) => `${i.host}:${i.tcpPort}`)).toEqual([
      '127.0.0.1:4401',
    ]);
    expect(() => new StaticResolver({ services: 'payment=127.0.0.1' })).toThrow(/bad address/);
  });

  it('keeps returning a dead address until the config is changed and the caller redeployed', async () => {
    // a port nobody listens on: bind, read the port, close
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const dead = (server.address() as net.AddressInfo).port;
    await new Promise((r) => server.close(r));

    const before = new StaticResolver({
      services: { payment: ['127.0.0.1:4201', `127.0.0.1:${dead}`] },
    });
    const seen: number[][] = [];
    await before.watch('payment', (list) => seen.push(list.map((i) => i.tcpPort as number)));
    await new Promise((r) => setTimeout(r, 100));
    expect((await before.list('payment')).map((i) => i.tcpPort)).toContain(dead);
    expect(seen).toEqual([[4201, dead]]); // no change is ever pushed

    const redeployed = new StaticResolver({ services: { payment: ['127.0.0.1:4201'] } });
    expect((await redeployed.list('payment')).map((i) => i.tcpPort)).toEqual([4201]);
  });
});
