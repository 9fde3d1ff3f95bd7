import { RequestContext } from '@stayline/observability';
import { BreakerOpenError, CallTimeoutError } from './errors';
import { retryAfterSeconds, toUnavailableResponse } from './unavailable-response';

describe('toUnavailableResponse', () => {
  it('rounds Retry-After up to whole seconds, never below 1', () => {
    expect([0, 1, 999, 1000, 1001, 19_400].map(retryAfterSeconds)).toEqual([1, 1, 1, 1, 2, 20]);
  });

  it('builds the 503 from the error and the running request id', () => {
    const response = RequestContext.run({ requestId: 'req-9' }, () =>
      toUnavailableResponse(new BreakerOpenError('payment', 12_300)),
    );
    expect(response).toEqual({
      status: 503,
      headers: { 'Retry-After': '13' },
      body: {
        error: 'dependency_unavailable',
        message: 'payment: circuit open on every endpoint; next trial in 12300 ms',
        dependency: 'payment',
        requestId: 'req-9',
      },
    });
  });

  it('works outside a request too', () => {
    const { body, headers } = toUnavailableResponse(
      new CallTimeoutError('payment', 300, 'payment-2'),
    );
    expect(body).toMatchObject({
      message: 'payment: no answer within 300 ms from payment-2',
      requestId: undefined,
    });
    expect(headers['Retry-After']).toBe('1');
  });
});
