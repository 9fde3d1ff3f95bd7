/**
 * Scaling out at run time: one more reservation and one more payment instance
 * from the compose file's `scale` profile (`--scale`), each registering under
 * its own address; the gateway and the callers send them traffic, and nothing
 * else is restarted.
 */
import { bearer, HttpClient, login, waitFor } from '@stayline/stack-kit';
import { ComposeStack } from './lib/compose-stack';

jest.setTimeout(240_000);

const stack = ComposeStack.fromEnv();
const G = stack.gateway;

describe('instances added to the running stack', () => {
  const http = new HttpClient();
  afterAll(() => http.close());

  it('register and take traffic through the gateway, and nothing else restarts', async () => {
    const before = new Map((await stack.containers()).map((c) => [c.name, c.startedAt]));
    const up = await stack.scale({ 'reservation-scaled': 1, 'payment-scaled': 1 });
    expect(up.code).toBe(0);
    await stack.waitHealthy(120_000);

    const alice = bearer((await login(G, 'alice')).access_token);
    const seen = async (url: string, known: string[]) => {
      let instance = '';
      await waitFor(
        `a new instance answering ${url}`,
        async () => {
          const r = await http.request(url, { headers: alice });
          instance = String(r.headers['x-instance-id'] ?? '');
          return r.status === 200 && !!instance && !known.includes(instance);
        },
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      return instance;
    };
    const reservation = await seen(`${G}/api/listings?limit=1`, ['reservation-1', 'reservation-2']);
    expect(reservation).toMatch(/^reservation-/);
    const payment = await seen(`${G}/api/payments`, ['payment-1', 'payment-2']);
    expect(payment).toMatch(/^payment-/);

    const after = await stack.containers();
    const restarted = after.filter((c) => before.has(c.name) && before.get(c.name) !== c.startedAt);
    expect(restarted.map((c) => c.name)).toEqual([]);
    expect(
      after
        .filter((c) => !before.has(c.name))
        .map((c) => c.service)
        .sort(),
    ).toEqual(['payment-scaled', 'reservation-scaled']);
  });
});
