/**
 * One reservation and one payment container SIGKILLed (`docker kill`) under
 * bookings through the gateway: every booking carries an Idempotency-Key, none
 * fails (nginx retries the cut request on the other instance, reservation's
 * client-side balancer charges on the other payment instance), none is charged
 * twice; `docker start` and each takes traffic again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { bearer, HttpClient, login, waitFor } from '@stayline/stack-kit';
import { acknowledged, chargesOf, mariadbPrimary } from './lib/cluster';
import { ComposeStack } from './lib/compose-stack';
import { BookingRun } from './lib/gateway';

jest.setTimeout(240_000);

const stack = ComposeStack.fromEnv();
const G = stack.gateway;

describe('a reservation and a payment container killed under bookings', () => {
  let run: BookingRun | undefined;
  afterAll(async () => {
    await run?.finish();
    // whatever failed, the next suites get both instances back
    for (const name of ['reservation-1', 'payment-1'])
      if ((await stack.container(name)).state !== 'running') await stack.start(name);
  });

  it('loses no keyed booking, charges none twice, and both take traffic once started again', async () => {
    run = await BookingRun.start(G, 6);
    const load = run.load;
    await sleep(3_000);
    const killedAt = performance.now();
    await Promise.all([stack.kill('reservation-1'), stack.kill('payment-1')]);
    await sleep(8_000);
    await Promise.all([stack.start('reservation-1'), stack.start('payment-1')]);
    await stack.waitHealthy(120_000);

    // both answer through the gateway again: reservation on the booking path, payment on its reads
    const startedAt = performance.now();
    await waitFor(
      'reservation-1 to answer bookings again',
      async () => load.between(startedAt).some((s) => s.instance === 'reservation-1'),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const http = new HttpClient();
    try {
      const alice = bearer((await login(G, 'alice')).access_token);
      await waitFor(
        'payment-1 to answer through the gateway again',
        async () => {
          const r = await http.request(`${G}/api/payments`, { headers: alice });
          return r.status === 200 && r.headers['x-instance-id'] === 'payment-1';
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    } finally {
      http.close();
    }
    await sleep(2_000);
    await load.stop();

    const after = load.between(killedAt);
    expect(after.length).toBeGreaterThan(20);
    // every request carried its own Idempotency-Key: none may fail (no answer, or a 5xx)
    expect(load.errors().map((s) => `${s.status} ${s.error ?? s.reply?.body ?? ''}`)).toEqual([]);
    const statuses = new Set(load.samples.map((s) => s.status));
    // 201 booked, 202 booked with its charge being settled (a resent key), 409 the night was taken
    expect([...statuses].filter((s) => ![201, 202, 409].includes(s))).toEqual([]);

    const ids = acknowledged(load.samples);
    expect(ids.length).toBeGreaterThan(20);
    const primary = await mariadbPrimary(stack);
    const charges = await chargesOf(stack, primary.service, ids);
    expect(ids.filter((id) => charges.get(id) !== 1)).toEqual([]);
  });
});
