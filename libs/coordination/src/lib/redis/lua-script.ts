import { createHash } from 'node:crypto';
import Redis from 'ioredis';

/**
 * A Lua script run atomically on the Redis primary by its SHA1 (`EVALSHA`),
 * falling back to `EVAL` when the server does not know it yet: after a
 * Sentinel failover the new primary's script cache is empty.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Caches the script on the server (`SCRIPT LOAD`), so its first run costs one round trip, not two. */
  async load(redis: Redis): Promise<void> {
    await redis.script('LOAD', this.source);
  }

  async run<T>(
    redis: Redis,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
  ): Promise<T> {
    try {
      return (await redis.evalsha(this.sha, keys.length, ...keys, ...args)) as T;
    } catch (err) {
      if (!/NOSCRIPT/.test((err as Error).message)) throw err;
      return (await redis.eval(this.source, keys.length, ...keys, ...args)) as T;
    }
  }

  /**
   * Runs a script that only reads (`EVALSHA_RO`, falling back to `EVAL_RO`): Redis
   * refuses any write in it, and a user with read-only rights on the keys
   * (`%R~` in its ACL) may run it, where `EVALSHA` needs write rights on every key.
   */
  async runReadOnly<T>(
    redis: Redis,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
  ): Promise<T> {
    try {
      return (await redis.evalsha_ro(this.sha, keys.length, ...keys, ...args)) as T;
    } catch (err) {
      if (!/NOSCRIPT/.test((err as Error).message)) throw err;
      return (await redis.eval_ro(this.source, keys.length, ...keys, ...args)) as T;
    }
  }
}

/** Lua prelude: `now` as the Redis server's clock in ms, so leases never depend on a client's clock. */
export const LUA_NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Loads `scripts` whenever `redis` (re)connects: a new primary after a failover
 * starts with an empty script cache.
 */
export function preloadScripts(redis: Redis, scripts: readonly LuaScript[]): void {
  const load = () => void Promise.all(scripts.map((s) => s.load(redis))).catch(() => undefined);
  redis.on('ready', load);
  if (redis.status === 'ready') load();
}
