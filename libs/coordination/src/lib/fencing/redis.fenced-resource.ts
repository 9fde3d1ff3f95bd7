import Redis from 'ioredis';
import { LuaScript } from '../redis/lua-script';
import { FencedResource } from './fenced-resource';

/**
 * KEYS resource hash, history list; ARGV token, value, historyLimit.
 * The compare and the write are one atomic step.
 */
const FENCED_WRITE = new LuaScript(
  'fenced.write',
  `local newest = tonumber(redis.call('HGET', KEYS[1], 'token') or '0')
local token = tonumber(ARGV[1])
if token < newest then return 0 end
redis.call('HSET', KEYS[1], 'token', token, 'value', ARGV[2])
local limit = tonumber(ARGV[3])
if limit > 0 then
  redis.call('LPUSH', KEYS[2], token .. '|' .. ARGV[2])
  redis.call('LTRIM', KEYS[2], 0, limit - 1)
end
return 1`,
);

/** The script of a fenced resource, to preload. */
export const FENCED_SCRIPTS = [FENCED_WRITE];

/** A fenced value in Redis (the Lua form of `WHERE fence_token <= ?`), with an audit trail of accepted writes. */
export class RedisFencedResource implements FencedResource {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
    /** Accepted writes kept in `<key>:history`, newest first (0: none). */
    private readonly historyLimit = 1_000,
  ) {}

  async write(token: number, value: string): Promise<boolean> {
    return (
      (await FENCED_WRITE.run<number>(
        this.redis,
        [this.key, `${this.key}:history`],
        [token, value, this.historyLimit],
      )) === 1
    );
  }

  async read(): Promise<{ token: number; value: string } | undefined> {
    const h = await this.redis.hgetall(this.key);
    return h.token === undefined ? undefined : { token: Number(h.token), value: h.value };
  }

  /** Accepted writes, oldest first. */
  async history(): Promise<Array<{ token: number; value: string }>> {
    const rows = await this.redis.lrange(`${this.key}:history`, 0, -1);
    return rows.reverse().map((r) => {
      const i = r.indexOf('|');
      return { token: Number(r.slice(0, i)), value: r.slice(i + 1) };
    });
  }
}
