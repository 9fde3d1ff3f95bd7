import { retryElsewhere } from './retry-elsewhere';
import { BreakerOpenError, DependencyUnavailableError, NoEndpointError } from './errors';

const RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

describe('retryElsewhere', () => {
  it("fails with the error of an attempt that was sent, not with a later attempt's open breaker", async () => {
    const timedOut = new DependencyUnavailableError('payment', 'timed out after 1000 ms');
    const endpoints = ['payment-1', 'payment-2'];
    const tried: string[] = [];
    const call = retryElsewhere(
      RETRY,
      'payment-1',
      () => endpoints.find((e) => !tried.includes(e)),
      (endpoint) => {
        tried.push(endpoint);
        // the first reached payment and timed out (the charge may have happened);
        // the second endpoint's breaker opened before the retry could be sent
        return Promise.reject(
          endpoint === 'payment-1' ? timedOut : new BreakerOpenError('payment', 5_000, endpoint),
        );
      },
      new AbortController().signal,
    );
    await expect(call).rejects.toBe(timedOut);
    expect(tried).toEqual(['payment-1', 'payment-2']);
  });

  it('fails with the breaker when no attempt was sent at all', async () => {
    const open = new BreakerOpenError('payment', 5_000, 'payment-1');
    const call = retryElsewhere(
      RETRY,
      'payment-1',
      () => undefined,
      () => Promise.reject(open),
      new AbortController().signal,
    );
    await expect(call).rejects.toBe(open);
  });

  it('answers with the first attempt that succeeds on another endpoint', async () => {
    const endpoints = ['a', 'b'];
    const tried: string[] = [];
    const call = retryElsewhere(
      RETRY,
      'a',
      () => endpoints.find((e) => !tried.includes(e)),
      (endpoint) => {
        tried.push(endpoint);
        return endpoint === 'a'
          ? Promise.reject(new DependencyUnavailableError('x', 'reset'))
          : Promise.resolve('ok');
      },
      new AbortController().signal,
    );
    await expect(call).resolves.toBe('ok');
  });
});

describe('retryElsewhere, an endpoint gone before the retry', () => {
  it('fails with the sent attempt’s error, not "no endpoint"', async () => {
    const cut = new DependencyUnavailableError('payment', 'connection reset');
    let n = 0;
    const call = retryElsewhere(
      RETRY,
      'payment-1',
      () => (n < 2 ? 'payment-2' : undefined),
      () => Promise.reject(++n === 1 ? cut : new NoEndpointError('payment')),
      new AbortController().signal,
    );
    await expect(call).rejects.toBe(cut);
  });
});
