import { BreakerState, type BreakerTransition } from './breaker-state';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker';
import { BreakerOpenError, CallTimeoutError } from './errors';

// cockatiel reads Date.now(): jest's modern fake timers are the clock we move by hand.
beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

const boom = () => Promise.reject(new Error('connect ECONNREFUSED'));
const ok = () => Promise.resolve('ok');
const notFound = () => Promise.reject(Object.assign(new Error('no such listing'), { status: 404 }));

function breaker(overrides: Partial<CircuitBreakerOptions> = {}) {
  const b = new CircuitBreaker({
    dependency: 'payment',
    endpointId: 'payment-1',
    trip: { kind: 'consecutive', threshold: 3 },
    resetTimeoutMs: 20_000,
    resetJitter: 0,
    ...overrides,
  });
  const events: BreakerTransition[] = [];
  b.onStateChange((e) => events.push(e));
  return { b, events };
}

async function fail(b: CircuitBreaker, times: number, fn: () => Promise<string> = boom) {
  for (let i = 0; i < times; i++) await b.execute(fn).catch(() => undefined);
}

describe('CircuitBreaker state machine', () => {
  it('opens on the 3rd consecutive failure, not before, and fails fast while open', async () => {
    const { b, events } = breaker();
    let calls = 0;
    const counted = () => (calls++, boom());
    await fail(b, 2, counted);
    expect(b.state).toBe(BreakerState.Closed);
    await fail(b, 1, counted);
    expect(b.state).toBe(BreakerState.Open);
    expect(events).toEqual([
      {
        from: 'closed',
        to: 'open',
        reason: '3 consecutive failures; last: connect ECONNREFUSED',
        retryAfterMs: 20_000,
      },
    ]);
    const refused = await b.execute(counted).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BreakerOpenError);
    expect(refused).toMatchObject({
      dependency: 'payment',
      endpointId: 'payment-1',
      retryAfterMs: 20_000,
    });
    expect(calls).toBe(3);
    expect(b.isCallPermitted()).toBe(false);
  });

  it('resets the count on a success in between', async () => {
    const { b } = breaker();
    await fail(b, 2);
    await b.execute(ok);
    await fail(b, 2);
    expect(b.state).toBe(BreakerState.Closed);
  });

  it('counts remaining open time down for Retry-After', async () => {
    const { b } = breaker();
    await fail(b, 3);
    jest.advanceTimersByTime(15_500);
    expect(b.retryAfterMs()).toBe(4_500);
    expect(b.isCallPermitted()).toBe(false);
    jest.advanceTimersByTime(4_500);
    expect(b.retryAfterMs()).toBe(0);
    expect(b.isCallPermitted()).toBe(true);
  });

  it('after the reset timeout lets one trial through; a success closes it', async () => {
    const { b, events } = breaker();
    await fail(b, 3);
    jest.advanceTimersByTime(20_000);
    let release!: (v: string) => void;
    const trial = b.execute(() => new Promise<string>((resolve) => (release = resolve)));
    expect(b.state).toBe(BreakerState.HalfOpen);
    // others fail fast while the trial is in flight instead of queueing behind it
    await expect(b.execute(ok)).rejects.toBeInstanceOf(BreakerOpenError);
    release('ok');
    await expect(trial).resolves.toBe('ok');
    expect(b.state).toBe(BreakerState.Closed);
    expect(events.map((e) => [e.from, e.to, e.reason])).toEqual([
      ['closed', 'open', '3 consecutive failures; last: connect ECONNREFUSED'],
      ['open', 'half-open', 'reset timeout of 20000 ms elapsed; trial call'],
      ['half-open', 'closed', 'trial call succeeded'],
    ]);
  });

  it('a failed trial opens it again for another reset timeout', async () => {
    const { b, events } = breaker();
    await fail(b, 3);
    jest.advanceTimersByTime(20_000);
    await fail(b, 1);
    expect(b.state).toBe(BreakerState.Open);
    expect(b.retryAfterMs()).toBe(20_000);
    expect(events.at(-1)).toMatchObject({
      from: 'half-open',
      to: 'open',
      reason: 'trial call failed: connect ECONNREFUSED',
    });
  });

  it('with halfOpenTrials 3 needs three successes, and one failure among them re-opens', async () => {
    const { b, events } = breaker({ halfOpenTrials: 3 });
    await fail(b, 3);
    jest.advanceTimersByTime(20_000);
    await b.execute(ok);
    await b.execute(ok);
    expect(b.state).toBe(BreakerState.HalfOpen);
    await fail(b, 1);
    expect(b.state).toBe(BreakerState.Open);
    jest.advanceTimersByTime(20_000);
    for (let i = 0; i < 3; i++) await b.execute(ok);
    expect(b.state).toBe(BreakerState.Closed);
    expect(events.map((e) => e.to)).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
    expect(events.at(-1)?.reason).toBe('3 trial calls succeeded');
  });

  it('does not count client errors (4xx), and rethrows them unchanged', async () => {
    const { b } = breaker();
    for (let i = 0; i < 10; i++)
      await expect(b.execute(notFound)).rejects.toMatchObject({ status: 404 });
    expect(b.state).toBe(BreakerState.Closed);
  });

  it('counts timeouts as failures', async () => {
    const { b } = breaker();
    await fail(b, 3, () => Promise.reject(new CallTimeoutError('payment', 300)));
    expect(b.state).toBe(BreakerState.Open);
  });

  it('opens on an error rate over the window once enough calls were made', async () => {
    const { b, events } = breaker({
      trip: { kind: 'error-rate', threshold: 0.5, windowMs: 10_000, minimumCalls: 10 },
    });
    for (let i = 0; i < 4; i++) {
      await b.execute(ok);
      await fail(b, 1);
    }
    expect(b.state).toBe(BreakerState.Closed); // 4 of 8 failed: too few calls, and not above 50%
    await fail(b, 3);
    expect(b.state).toBe(BreakerState.Open); // opened at 6 failed of 10
    expect(events[0]?.reason).toBe(
      'more than 50% of calls failed over 10000 ms; last: connect ECONNREFUSED',
    );
  });

  it('jitters the reset timeout within the configured spread', async () => {
    const low = breaker({ resetJitter: 0.1, random: () => 0 }).b;
    const high = breaker({ resetJitter: 0.1, random: () => 0.999999 }).b;
    await fail(low, 3);
    await fail(high, 3);
    expect(low.retryAfterMs()).toBe(18_000);
    expect(high.retryAfterMs()).toBe(22_000);
  });

  it('reports a snapshot with the reason while open', async () => {
    const { b } = breaker();
    expect(b.snapshot()).toMatchObject({ state: 'closed' });
    await fail(b, 3);
    expect(b.snapshot()).toMatchObject({
      state: 'open',
      retryAfterMs: 20_000,
      reason: expect.stringContaining('3 consecutive'),
    });
  });
});
