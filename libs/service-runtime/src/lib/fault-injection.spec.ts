import { FaultInjector } from './fault-injection';

function flags(values: Record<string, number>) {
  return { number: (name: string, fallback: number) => values[name] ?? fallback };
}

describe('FaultInjector', () => {
  const scope = { service: 'payment', instanceId: 'payment-2' };

  it('uses the most specific flag', () => {
    const f = new FaultInjector(
      flags({
        'fault.payment.all.latencyMs': 10,
        'fault.payment.charge.latencyMs': 20,
        'fault.payment-2.all.latencyMs': 30,
        'fault.payment-2.charge.latencyMs': 40,
      }),
      scope,
    );
    expect(f.value('charge', 'latencyMs')).toBe(40);
    expect(f.value('refund', 'latencyMs')).toBe(30);
    expect(
      new FaultInjector(flags({ 'fault.payment.charge.latencyMs': 20 }), scope).value(
        'charge',
        'latencyMs',
      ),
    ).toBe(20);
    expect(
      new FaultInjector(flags({ 'fault.payment-1.all.latencyMs': 99 }), scope).value(
        'charge',
        'latencyMs',
      ),
    ).toBe(0);
  });

  it('sleeps for the latency and fails at the error rate', async () => {
    const slept: number[] = [];
    const rolls = [0.1, 0.9];
    const f = new FaultInjector(
      flags({ 'fault.payment.all.latencyMs': 25, 'fault.payment.charge.errorRate': 0.5 }),
      scope,
      () => rolls.shift() ?? 1,
      async (ms) => {
        slept.push(ms);
      },
    );
    await expect(f.apply('charge')).rejects.toMatchObject({ status: 503 });
    await expect(f.apply('charge')).resolves.toBeUndefined();
    expect(slept).toEqual([25, 25]);
  });

  it('does nothing without flags', async () => {
    const f = new FaultInjector(flags({}), scope, () => 0);
    await expect(f.apply('charge')).resolves.toBeUndefined();
  });
});
