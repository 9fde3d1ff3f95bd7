import { HealthRegistry, inSpan, SpanKind } from '@stayline/observability';
import { recordSpansInMemory } from '@stayline/observability/tracing';
import { captureLogs } from '../testing/log-capture';
import { roundRobin } from '../testing/round-robin';
import type { AttemptTarget } from './call-options';
import { DependencyPolicy, type DependencyPolicyOptions } from './dependency-policy';

const refused = () =>
  Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

let recorder: ReturnType<typeof recordSpansInMemory>;
beforeAll(() => (recorder = recordSpansInMemory()));
afterAll(() => recorder.stop());
afterEach(() => recorder.reset());

const policies: DependencyPolicy[] = [];
afterEach(() => policies.splice(0).forEach((p) => p.dispose()));
function policy(options: Partial<DependencyPolicyOptions> = {}) {
  const p = DependencyPolicy.create({
    name: 'payment',
    essential: true,
    timeoutMs: 50,
    resetTimeoutMs: 60_000,
    resetJitter: 0,
    logger: captureLogs().logger,
    health: new HealthRegistry(),
    ...options,
  });
  policies.push(p);
  return p;
}

/** Runs `fn` inside a request's span, as a handler would. */
const inRequest = <T>(fn: () => Promise<T>) =>
  inSpan('GET /test', { kind: SpanKind.SERVER }, () => fn());

const named = (name: string) => recorder.spans().filter((s) => s.name === name);
const events = (name: string) =>
  recorder
    .spans()
    .flatMap((s) => s.events.map((e) => ({ span: s.name, name: e.name, attributes: e.attributes })))
    .filter((e) => e.name === name);

describe('DependencyPolicy in a trace', () => {
  it('makes one span per call with one client span per attempt, and a retry event naming the next endpoint', async () => {
    const p = policy({
      selector: roundRobin(['payment-1', 'payment-2']),
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    });
    const value = await inRequest(() =>
      p.call({ idempotent: true, operation: 'payment.charge' }, (t: AttemptTarget) =>
        t.attempt === 1 ? refused() : Promise.resolve('ok'),
      ),
    );
    expect(value).toBe('ok');
    const [request] = named('GET /test');
    const [call] = named('payment payment.charge');
    const attempts = named('payment payment.charge attempt');
    expect(call.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(attempts).toHaveLength(2);
    for (const a of attempts) {
      expect(a.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
      expect(a.kind).toBe(SpanKind.CLIENT);
    }
    expect(attempts.map((a) => [a.attributes['stayline.attempt'], a.status.code])).toEqual([
      [1, 2], // ERROR
      [2, 0], // UNSET: it succeeded
    ]);
    expect(attempts[0].attributes['stayline.endpoint']).not.toBe(
      attempts[1].attributes['stayline.endpoint'],
    );
    expect(events('retry')).toEqual([
      {
        span: 'payment payment.charge',
        name: 'retry',
        attributes: {
          'stayline.attempt': 2,
          'stayline.endpoint': attempts[1].attributes['stayline.endpoint'],
        },
      },
    ]);
    expect(call.status.code).toBe(0);
  });

  it('records the breaker opening inside the call that tripped it, and the fallback of the next call', async () => {
    const p = policy({
      essential: false,
      breaker: { kind: 'consecutive', threshold: 1 },
    });
    const fallback = () => Promise.resolve('popular');
    await inRequest(() => p.call({ operation: 'recommendation.rank' }, refused, fallback));
    const opened = events('breaker.transition');
    expect(opened).toHaveLength(1);
    expect(opened[0].attributes).toMatchObject({
      'stayline.dependency': 'payment',
      'stayline.endpoint': 'default',
      'stayline.breaker.from': 'closed',
      'stayline.breaker.to': 'open',
    });
    expect(opened[0].span).toBe('payment recommendation.rank attempt');
    recorder.reset();

    // open now: nothing is sent, the call falls back at once and says why
    const outcome = await inRequest(() =>
      p.call({ operation: 'recommendation.rank' }, refused, fallback),
    );
    expect(outcome).toMatchObject({ value: 'popular', degraded: true });
    expect(named('payment recommendation.rank attempt')).toHaveLength(0);
    const [call] = named('payment recommendation.rank');
    expect(call.attributes['stayline.dependency.state']).toBe('open');
    expect(events('breaker.skipped')[0].attributes).toMatchObject({
      'stayline.endpoints': ['default'],
      'stayline.picked': 'none',
    });
    expect(events('fallback')[0]).toMatchObject({
      span: 'payment recommendation.rank',
      attributes: { 'stayline.error.code': 'breaker_open' },
    });
  });

  it('leaves a call made outside any request untraced', async () => {
    const p = policy();
    await p.call({}, () => Promise.resolve(1));
    expect(recorder.spans()).toEqual([]);
  });
});
