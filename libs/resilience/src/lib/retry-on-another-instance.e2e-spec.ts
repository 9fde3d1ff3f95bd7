import { HealthRegistry } from '@stayline/observability';
import { CalleeProcess, getJson } from '../testing/callee-process';
import { captureLogs } from '../testing/log-capture';
import { roundRobin } from '../testing/round-robin';
import type { AttemptTarget } from './call-options';
import { DependencyPolicy } from './dependency-policy';
import { CallTimeoutError, DependencyUnavailableError } from './errors';

// Fault: one of two instances fails the call after it arrived (503), or hangs.
// A retry is safe only for an idempotent call or one carrying a retry key (the callee dedupes by it).
jest.setTimeout(30_000);

describe('retries against two real instances', () => {
  let broken: CalleeProcess;
  let healthy: CalleeProcess;
  let policy: DependencyPolicy;
  const charge = (t: AttemptTarget) => {
    const target = t.endpointId === broken.name ? broken : healthy;
    return getJson<{ instance: string }>(target.url(), t.signal);
  };

  beforeEach(async () => {
    broken = await CalleeProcess.start('payment-1', { status: 503 });
    healthy = await CalleeProcess.start('payment-2');
    policy = DependencyPolicy.create({
      name: 'payment',
      essential: true,
      timeoutMs: 300,
      retry: { maxAttempts: 3, baseDelayMs: 10 },
      selector: roundRobin([broken.name, healthy.name]), // the first attempt goes to payment-1
      logger: captureLogs().logger,
      health: new HealthRegistry(),
    });
  });

  afterEach(async () => {
    policy.dispose();
    await Promise.all([broken.stop(), healthy.stop()]);
  });

  it('never repeats a non-idempotent call', async () => {
    await expect(policy.call({}, charge)).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(await broken.served()).toBe(1);
    expect(await healthy.served()).toBe(0);
  });

  it('sends a call with a retry key again, to the other instance', async () => {
    await expect(policy.call({ retryKey: 'reservation-42' }, charge)).resolves.toMatchObject({
      instance: 'payment-2',
    });
    expect(await broken.served()).toBe(1);
    expect(await healthy.served()).toBe(1);
  });

  it('after a timeout, retries an idempotent call on the other instance, never the hung one twice', async () => {
    broken.hang();
    const started = performance.now();
    await expect(policy.call({ idempotent: true }, charge)).resolves.toMatchObject({
      instance: 'payment-2',
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect(await healthy.served()).toBe(1);
    // round robin is back on payment-1: a non-idempotent call times out there and stays there
    await expect(policy.call({}, charge)).rejects.toBeInstanceOf(CallTimeoutError);
    broken.resume();
    expect(await healthy.served()).toBe(1);
  });
});
