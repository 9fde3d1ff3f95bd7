import { ArgumentsHost, Logger, NotFoundException } from '@nestjs/common';
import { RetryableWriteError } from '@stayline/database';
import { BreakerOpenError } from '@stayline/resilience';
import { HttpErrorFilter } from './http-error.filter';

/** An HTTP ArgumentsHost over a response that records what the filter sent. */
function httpHost() {
  const sent: { status?: number; body?: unknown; headers: Record<string, string> } = {
    headers: {},
  };
  const res = {
    headersSent: false,
    setHeader: (name: string, value: string) => (sent.headers[name] = value),
    status(code: number) {
      sent.status = code;
      return this;
    },
    json: (body: unknown) => (sent.body = body),
  };
  const host = {
    getType: () => 'http',
    switchToHttp: () => ({ getResponse: () => res }),
  } as unknown as ArgumentsHost;
  return { host, sent };
}

describe('HttpErrorFilter', () => {
  const filter = new HttpErrorFilter();
  let errors: jest.SpyInstance;

  beforeEach(() => {
    errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => errors.mockRestore());

  it('answers an open breaker with 503 and Retry-After, and does not log it as an error', () => {
    const { host, sent } = httpHost();
    filter.catch(new BreakerOpenError('payment', 12_300), host);
    expect(sent.status).toBe(503);
    expect(sent.headers['Retry-After']).toBe('13');
    expect(sent.body).toMatchObject({ error: 'dependency_unavailable', dependency: 'payment' });
    expect(errors).not.toHaveBeenCalled();
  });

  it('answers a primary that cannot be reached (a failover) with 503 and Retry-After, not a 500', () => {
    for (const err of [
      new RetryableWriteError('write on mariadb-1 failed: ETIMEDOUT', 'unknown', 'mariadb-1'),
      Object.assign(new Error('getaddrinfo ENOTFOUND mariadb-1'), { code: 'ENOTFOUND' }),
      { driverError: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' } },
    ]) {
      const { host, sent } = httpHost();
      filter.catch(err, host);
      expect(sent.status).toBe(503);
      expect(sent.headers['Retry-After']).toBe('1');
      expect(sent.body).toMatchObject({ error: 'database_unavailable' });
    }
    expect(errors).not.toHaveBeenCalled();
  });

  it('answers an unexpected error with a bare 500 and logs it with its stack', () => {
    const { host, sent } = httpHost();
    filter.catch(new Error('secret detail'), host);
    expect(sent.status).toBe(500);
    expect(sent.body).toMatchObject({ error: 'internal_error', message: 'internal error' });
    expect(errors).toHaveBeenCalledTimes(1);
    expect(String(errors.mock.calls[0][0])).toContain('secret detail');
  });

  it('answers a client error with its status and does not log it as an error', () => {
    const { host, sent } = httpHost();
    filter.catch(new NotFoundException('no listing x'), host);
    expect(sent.status).toBe(404);
    expect(sent.body).toMatchObject({ error: 'not_found', message: 'no listing x' });
    expect(errors).not.toHaveBeenCalled();
  });
});
