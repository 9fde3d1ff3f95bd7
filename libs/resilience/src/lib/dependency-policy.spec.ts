import { HealthRegistry, metricsRegistry } from '@stayline/observability';
import { captureLogs } from '../testing/log-capture';
import { roundRobin } from '../testing/round-robin';
import { BreakerState } from './breaker-state';
import type { AttemptTarget } from './call-options';
import { DependencyPolicy, type DependencyPolicyOptions } from './dependency-policy';
import type { DependencyTransition } from './dependency-telemetry';
import {
  BreakerOpenError,
  BulkheadRejectedError,
  CallTimeoutError,
  DependencyUnavailableError,
} from './errors';

const refused = () =>
  Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
const hangs = (t: AttemptTarget) =>
  new Promise<never>((_, reject) =>
    t.signal.addEventListener('abort', () => reject(new Error('aborted'))),
  );

const policies: DependencyPolicy[] = [];
function policy(options: Partial<DependencyPolicyOptions> = {}) {
  const { logger, lines } = captureLogs();
  const health = new HealthRegistry();
  const p = DependencyPolicy.create({
    name: 'payment',
    essential: true,
    timeoutMs: 50,
    resetTimeoutMs: 60_000,
    resetJitter: 0,
    logger,
    health,
    ...options,
  });
  policies.push(p);
  const events: DependencyTransition[] = [];
  p.onStateChange((e) => events.push(e));
  return { p, lines, events, health };
}
afterEach(() => policies.splice(0).forEach((p) => p.dispose()));

async function failTimes(
  p: DependencyPolicy,
  n: number,
  attempt: (t: AttemptTarget) => Promise<never> = refused,
) {
  for (let i = 0; i < n; i++) await p.call({}, attempt).catch(() => undefined);
}

describe('DependencyPolicy', () => {
  it('times out a hanging attempt, aborts its signal and counts it as a failure', async () => {
    const { p } = policy();
    let signal: AbortSignal | undefined;
    const started = Date.now();
    const error = await p.call({}, (t) => ((signal = t.signal), hangs(t))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect(error).toMatchObject({ timeoutMs: 50, endpointId: 'default', code: 'call_timeout' });
    expect(signal?.aborted).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    await failTimes(p, 2, hangs);
    expect(p.state).toBe(BreakerState.Open);
  });

  it('honours a per-call timeout', async () => {
    const { p } = policy({ timeoutMs: 5_000 });
    await expect(p.call({ timeoutMs: 20 }, hangs)).rejects.toMatchObject({ timeoutMs: 20 });
  });

  it('wraps other failures as DependencyUnavailableError with the cause, and passes 4xx through uncounted', async () => {
    const { p } = policy();
    const error = await p.call({}, refused).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).message).toBe('payment unavailable: connect ECONNREFUSED');
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    const badRequest = { statusCode: 400, message: 'amount must be positive' };
    for (let i = 0; i < 5; i++)
      await expect(p.call({}, () => Promise.reject(badRequest))).rejects.toBe(badRequest);
    expect(p.state).toBe(BreakerState.Closed);
  });

  it('fails fast with BreakerOpenError and Retry-After time once open', async () => {
    const { p } = policy();
    await failTimes(p, 3);
    let called = false;
    const error = await p.call({}, async () => (called = true)).catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect((error as BreakerOpenError).retryAfterMs).toBeGreaterThan(59_000);
    expect(p.retryAfterMs()).toBeGreaterThan(59_000);
  });

  it('is open only when every endpoint is open, and says so once per change', async () => {
    const { p, events, lines } = policy({ selector: roundRobin(['a', 'b']) });
    await failTimes(p, 6); // alternates a, b, a, b, a, b
    expect(p.endpoint('a').state).toBe(BreakerState.Open);
    expect(p.endpoint('b').state).toBe(BreakerState.Open);
    expect(p.state).toBe(BreakerState.Open);
    expect(events.map((e) => `${e.endpointId ?? '*'} ${e.to}`)).toEqual([
      'a open',
      'b open',
      '* open',
    ]);
    const logged = lines.filter((l) => l['msg'] && String(l['msg']).startsWith('breaker '));
    expect(logged.map((l) => [l['endpoint'], l['to'], l['level']])).toEqual([
      ['a', 'open', 'warn'],
      ['b', 'open', 'warn'],
      ['*', 'open', 'warn'],
    ]);
    expect(logged[2]?.['reason']).toMatch(/^every endpoint open/);
    expect([p.isCallPermitted('a'), p.isCallPermitted('b'), p.isCallPermitted('new')]).toEqual([
      false,
      false,
      true,
    ]);
    p.forgetEndpoint('b');
    expect(p.state).toBe(BreakerState.Open);
  });

  it('keeps going through the other endpoint while one is open', async () => {
    const { p } = policy({ selector: roundRobin(['a', 'b']) });
    const seen: string[] = [];
    const attempt = async (t: AttemptTarget) => {
      seen.push(t.endpointId);
      if (t.endpointId === 'a') return refused();
      return 'ok';
    };
    for (let i = 0; i < 8; i++) await p.call({}, attempt).catch(() => undefined);
    expect(p.endpoint('a').state).toBe(BreakerState.Open);
    expect(p.state).toBe(BreakerState.Closed);
    expect(seen.filter((id) => id === 'a')).toHaveLength(3);
    expect(seen.slice(-3)).toEqual(['b', 'b', 'b']);
  });

  describe('retries', () => {
    const counting = () => {
      const seen: AttemptTarget[] = [];
      const attempt = async (t: AttemptTarget) => {
        seen.push(t);
        if (t.endpointId === 'a') throw Object.assign(new Error('bad gateway'), { status: 502 });
        return `charged on ${t.endpointId}`;
      };
      return { seen, attempt };
    };

    it('never repeats a non-idempotent call', async () => {
      const { p } = policy({
        selector: roundRobin(['a', 'b']),
        retry: { maxAttempts: 3, baseDelayMs: 1 },
      });
      const { seen, attempt } = counting();
      await expect(p.call({}, attempt)).rejects.toBeInstanceOf(DependencyUnavailableError);
      expect(seen.map((t) => t.endpointId)).toEqual(['a']);
    });

    it('retries a call with a retry key on another instance, passing the key', async () => {
      const { p } = policy({
        selector: roundRobin(['a', 'b']),
        retry: { maxAttempts: 3, baseDelayMs: 1 },
      });
      const { seen, attempt } = counting();
      await expect(p.call({ retryKey: 'reservation-7' }, attempt)).resolves.toBe('charged on b');
      expect(seen.map((t) => [t.endpointId, t.attempt, t.retryKey])).toEqual([
        ['a', 1, 'reservation-7'],
        ['b', 2, 'reservation-7'],
      ]);
    });

    it('gives up with the last error when no other instance is left', async () => {
      const { p } = policy({ retry: { maxAttempts: 5, baseDelayMs: 1 } });
      let calls = 0;
      await expect(p.call({ idempotent: true }, () => (calls++, refused()))).rejects.toThrow(
        'ECONNREFUSED',
      );
      expect(calls).toBe(1); // a single endpoint: nowhere else to go
    });

    it('does not retry client errors', async () => {
      const { p } = policy({ selector: roundRobin(['a', 'b']) });
      let calls = 0;
      const notFound = { status: 404 };
      await expect(
        p.call({ idempotent: true }, () => (calls++, Promise.reject(notFound))),
      ).rejects.toBe(notFound);
      expect(calls).toBe(1);
    });

    it('stops at maxAttempts', async () => {
      const { p } = policy({
        selector: roundRobin(['a', 'b', 'c', 'd']),
        retry: { maxAttempts: 2, baseDelayMs: 1 },
      });
      let calls = 0;
      await expect(p.call({ idempotent: true }, () => (calls++, refused()))).rejects.toThrow();
      expect(calls).toBe(2);
    });
  });

  it('bulkhead: rejects calls past maxConcurrent + maxQueue with a clear error', async () => {
    const { p } = policy({ timeoutMs: 10_000, bulkhead: { maxConcurrent: 2, maxQueue: 1 } });
    const gates: Array<() => void> = [];
    const held = () => new Promise<string>((resolve) => gates.push(() => resolve('done')));
    const admitted = [p.call({}, held), p.call({}, held), p.call({}, held)];
    const error = await p.call({}, held).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect((error as Error).message).toBe(
      'payment: bulkhead full (2 calls in flight, 1 queued); call refused',
    );
    expect(gates).toHaveLength(2); // the third waits in the queue
    gates.forEach((open) => open());
    await new Promise((r) => setImmediate(r));
    gates[2]?.();
    await expect(Promise.all(admitted)).resolves.toEqual(['done', 'done', 'done']);
    expect(p.state).toBe(BreakerState.Closed); // rejections are not the callee's fault
  });

  it('a non-essential call degrades to its fallback, saying why', async () => {
    const { p } = policy({ name: 'recommendation', essential: false });
    const fresh = await p.call(
      {},
      async () => ['b', 'a'],
      () => ['a', 'b'],
    );
    expect(fresh).toEqual({ value: ['b', 'a'], degraded: false });
    await failTimes(p, 3);
    const degraded = await p.call(
      {},
      async () => ['b', 'a'],
      () => ['a', 'b'],
    );
    expect(degraded).toMatchObject({ value: ['a', 'b'], degraded: true });
    expect(degraded.degraded && degraded.reason).toMatch(
      /^recommendation: circuit open on every endpoint/,
    );
  });

  it('an essential dependency refuses a fallback', async () => {
    const { p } = policy();
    await expect(
      p.call(
        {},
        async () => 1,
        () => 0,
      ),
    ).rejects.toThrow(TypeError);
  });

  it('a call cancelled by its caller does not count against the breaker', async () => {
    const { p } = policy({ timeoutMs: 10_000 });
    for (let i = 0; i < 4; i++) {
      const controller = new AbortController();
      const call = p.call({ signal: controller.signal }, hangs);
      controller.abort();
      await expect(call).rejects.toThrow(/cancelled/);
    }
    expect(p.state).toBe(BreakerState.Closed);
  });

  it('shows breaker states in metrics and in the health registry', async () => {
    const { p, health } = policy({
      name: 'metrics-spec',
      essential: false,
      selector: roundRobin(['x']),
    });
    expect(await health.check()).toMatchObject({ status: 'up' });
    await failTimes(p, 3);
    const report = await health.check();
    expect(report.status).toBe('degraded');
    expect(report.checks['dependency:metrics-spec']?.details).toMatchObject({
      essential: false,
      state: 'open',
      endpoints: {
        x: { state: 'open', reason: expect.stringContaining('3 consecutive failures') },
      },
    });
    const text = await metricsRegistry.metrics();
    expect(text).toContain('resilience_breaker_state{dependency="metrics-spec",endpoint="x"} 1');
    expect(text).toContain('resilience_dependency_state{dependency="metrics-spec"} 1');
    expect(text).toContain(
      'resilience_calls_total{dependency="metrics-spec",outcome="dependency_unavailable"} 3',
    );
    p.dispose();
    expect(await health.check()).toEqual({ status: 'up', checks: {} });
  });

  it('refuses a bad configuration at creation', () => {
    expect(() =>
      policy({ breaker: { kind: 'error-rate', threshold: 1.5, windowMs: 1000, minimumCalls: 5 } }),
    ).toThrow(/invalid resilience config for payment/);
  });
});
