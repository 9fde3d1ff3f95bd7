import net from 'node:net';
import { connectRedis, formatRedisTarget, parseRedisTarget } from './redis-target';

/** A loopback port nothing listens on: every connection is refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Redis targets', () => {
  it('parses a Sentinel target and formats it back', () => {
    const url = 'redis-sentinel://127.0.0.1:26479,127.0.0.1:26480/stayline';
    const t = parseRedisTarget(url);
    expect(t).toEqual({
      sentinels: [
        { host: '127.0.0.1', port: 26479 },
        { host: '127.0.0.1', port: 26480 },
      ],
      masterName: 'stayline',
    });
    expect(formatRedisTarget(t)).toBe(url);
  });

  it('parses a direct target with a password', () => {
    expect(parseRedisTarget('redis://:s%40cret@localhost:6479')).toEqual({
      host: 'localhost',
      port: 6479,
      password: 's@cret',
    });
  });

  it('parses a user and a password', () => {
    expect(parseRedisTarget('redis://stayline-service:s%40cret@localhost:6479')).toEqual({
      host: 'localhost',
      port: 6479,
      username: 'stayline-service',
      password: 's@cret',
    });
  });

  it('refuses what it cannot use', () => {
    expect(() => parseRedisTarget('redis-sentinel://127.0.0.1:26479')).toThrow(/master name/);
    expect(() => parseRedisTarget('redis://a:1,b:2')).toThrow(/exactly one/);
    expect(() => parseRedisTarget('http://x:1')).toThrow(/not a Redis target/);
  });

  it('lets a SUBSCRIBE that ioredis sends itself fail without an unhandled rejection', async () => {
    const target = { host: '127.0.0.1', port: await closedPort() };
    const redis = connectRedis(target, { commandTimeoutMs: 200 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // as ioredis' ready handler does: the promise is dropped
      void redis.subscribe('stayline:test');
      void redis.select(0);
      // a caller that awaits still sees the failure
      await expect(redis.subscribe('stayline:test:awaited')).rejects.toThrow(
        /timed out|max retries/i,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      redis.disconnect();
    }
  });
});
