import { BadRequestException, CallHandler, ExecutionContext } from '@nestjs/common';
import { RequestContext } from '@stayline/observability';
import { firstValueFrom, Observable, of, throwError } from 'rxjs';
import { ConsistencyTokenInterceptor } from './consistency-token.interceptor';

/** A fake HTTP exchange: request headers in, response headers out. */
function exchange(headers: Record<string, string> = {}) {
  const sent: Record<string, string> = {};
  const res = { headersSent: false, setHeader: (k: string, v: string) => (sent[k] = v) };
  const ctx = {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => ({ headers }), getResponse: () => res }),
  } as unknown as ExecutionContext;
  return { ctx, sent };
}

/** A handler that "writes": it sets the context's token the way the router does. */
const writingHandler = (token: string): CallHandler => ({
  handle: () =>
    new Observable((s) => {
      const current = RequestContext.current();
      if (current) current.consistencyToken = token;
      s.next({ ok: true });
      s.complete();
    }),
});

describe('ConsistencyTokenInterceptor', () => {
  const interceptor = new ConsistencyTokenInterceptor();

  it('puts the incoming token in the request context for the handler', async () => {
    const { ctx } = exchange({ 'x-consistency-token': '0-1-7' });
    let seen: string | undefined;
    const handler: CallHandler = {
      handle: () =>
        new Observable((s) => {
          seen = RequestContext.current()?.consistencyToken;
          s.complete();
        }),
    };
    await firstValueFrom(interceptor.intercept(ctx, handler), { defaultValue: undefined });
    expect(seen).toBe('0-1-7');
  });

  it("sends the token of the handler's write back in X-Consistency-Token", async () => {
    const { ctx, sent } = exchange();
    await firstValueFrom(interceptor.intercept(ctx, writingHandler('0-1-42')));
    expect(sent['x-consistency-token']).toBe('0-1-42');
  });

  it('keeps using an existing request context (set by the request-id middleware)', async () => {
    const { ctx, sent } = exchange({ 'x-consistency-token': '0-1-3' });
    const context: RequestContext = { requestId: 'req-1' };
    await RequestContext.run(context, () =>
      firstValueFrom(interceptor.intercept(ctx, writingHandler('0-1-9'))),
    );
    expect(context.consistencyToken).toBe('0-1-9');
    expect(sent['x-consistency-token']).toBe('0-1-9');
  });

  it('sends the token even when the handler fails after writing', async () => {
    const { ctx, sent } = exchange({ 'x-consistency-token': '0-1-5' });
    const failing: CallHandler = { handle: () => throwError(() => new Error('after the write')) };
    await expect(firstValueFrom(interceptor.intercept(ctx, failing))).rejects.toThrow(
      'after the write',
    );
    expect(sent['x-consistency-token']).toBe('0-1-5');
  });

  it.each([["0-1-1'; DROP TABLE note; --"], ['4294967296-1-1'], ['0-1-18446744073709551616']])(
    'refuses a malformed or out-of-range token %s as a bad request',
    (token) => {
      const { ctx } = exchange({ 'x-consistency-token': token });
      expect(() => interceptor.intercept(ctx, writingHandler('0-1-1'))).toThrow(
        BadRequestException,
      );
    },
  );

  it('leaves non-HTTP transports alone', async () => {
    const ctx = { getType: () => 'rpc' } as unknown as ExecutionContext;
    await expect(firstValueFrom(interceptor.intercept(ctx, { handle: () => of(7) }))).resolves.toBe(
      7,
    );
  });
});
