import { formatRedisTarget, parseRedisTarget } from './redis-target';

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

  it('refuses what it cannot use', () => {
    expect(() => parseRedisTarget('redis-sentinel://127.0.0.1:26479')).toThrow(/master name/);
    expect(() => parseRedisTarget('redis://a:1,b:2')).toThrow(/exactly one/);
    expect(() => parseRedisTarget('http://x:1')).toThrow(/not a Redis target/);
  });
});
