import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from './logger';
import { RequestContext } from './request-context';

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: 'spec',
    destination: { write: (s: string) => lines.push(JSON.parse(s)) },
  });
  return { logger, lines };
}

describe('RequestContext', () => {
  it('is empty outside a request', () => {
    expect(RequestContext.current()).toBeUndefined();
    expect(RequestContext.requestId()).toBeUndefined();
  });

  it('follows awaits, timers and callbacks started inside run()', async () => {
    const seen = await RequestContext.run({ requestId: 'r-1' }, async () => {
      await sleep(5);
      const fromTimer = await new Promise<string | undefined>((resolve) =>
        setTimeout(() => resolve(RequestContext.requestId()), 1),
      );
      const fromMicrotask = await Promise.resolve().then(() => RequestContext.requestId());
      return [RequestContext.requestId(), fromTimer, fromMicrotask];
    });
    expect(seen).toEqual(['r-1', 'r-1', 'r-1']);
  });

  it('keeps concurrent requests apart', async () => {
    const run = (id: string, delay: number) =>
      RequestContext.run({ requestId: id }, async () => {
        await sleep(delay);
        return RequestContext.requestId();
      });
    await expect(Promise.all([run('a', 20), run('b', 1), run('c', 10)])).resolves.toEqual([
      'a',
      'b',
      'c',
    ]);
  });

  it('lets a request record its consistency token after a write', () => {
    const token = RequestContext.run({ requestId: 'r-2' }, () => {
      const ctx = RequestContext.current();
      if (ctx) ctx.consistencyToken = '0-1-42';
      return RequestContext.current()?.consistencyToken;
    });
    expect(token).toBe('0-1-42');
  });
});

describe('createLogger', () => {
  it('writes one JSON line per event with service and pid', () => {
    const { logger, lines } = captureLogger();
    logger.info({ orderId: 7 }, 'hello');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      service: 'spec',
      pid: process.pid,
      orderId: 7,
      msg: 'hello',
    });
    expect(lines[0]).not.toHaveProperty('requestId');
  });

  it('adds the request id to lines logged inside a context, after async work too', async () => {
    const { logger, lines } = captureLogger();
    await RequestContext.run({ requestId: 'req-42' }, async () => {
      logger.info('start');
      await sleep(2);
      logger.child({ component: 'child' }).warn('after await');
    });
    logger.info('outside');
    expect(lines.map((l) => l['requestId'])).toEqual(['req-42', 'req-42', undefined]);
    expect(lines[1]).toMatchObject({ component: 'child', level: 'warn' });
  });
});
