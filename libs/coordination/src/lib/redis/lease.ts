/**
 * The lease under leader election and locks, on Redis: `SET key value NX PX ttl`
 * where value is `owner|token`, the token drawn from `INCR` of a counter at
 * acquisition (the fencing token: it only grows); extension and release compare
 * the value first (Lua), so only the holder can extend or release.
 * See docs/patterns/coordinator.md.
 */
import Redis from 'ioredis';
import { LuaScript } from './lua-script';

/** KEYS lease, fence counter; ARGV owner, ttlMs, channel. Returns {1, value, token} or {0, holder, pttl}. */
const ACQUIRE = new LuaScript(
  'lease.acquire',
  `local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur, redis.call('PTTL', KEYS[1])} end
local token = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. '|' .. token
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], 'acquired|' .. value) end
return {1, value, token}`,
);

/** KEYS lease; ARGV value, ttlMs. Compare-and-extend: 1 extended, 0 not the holder (any more). */
const EXTEND = new LuaScript(
  'lease.extend',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`,
);

/** KEYS lease; ARGV value, channel. Compare-and-delete: only the holder releases. */
const RELEASE = new LuaScript(
  'lease.release',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], 'released|' .. ARGV[1]) end
  return 1
end
return 0`,
);

/** The scripts of a lease, to preload. */
export const LEASE_SCRIPTS = [ACQUIRE, EXTEND, RELEASE];

export type LeaseAttempt =
  | { acquired: true; token: number; value: string }
  | { acquired: false; holder: string | undefined; remainingMs: number };

export interface RedisLeaseOptions {
  /** Where acquisitions and releases are announced (so waiters try at once). */
  channel?: string;
  /**
   * After acquiring, wait (`WAIT 1`) until a replica has the lease and the new
   * token, so a Sentinel failover cannot hand out the same token again. Default true.
   */
  requireReplicaAck?: boolean;
  /** How long to wait for that acknowledgement. Default 500 ms. */
  ackTimeoutMs?: number;
}

export class LeaseNotDurableError extends Error {
  constructor(key: string) {
    super(`lease ${key} was taken but no replica acknowledged it; released again`);
    this.name = 'LeaseNotDurableError';
  }
}

export class RedisLease {
  constructor(
    /** Renewals and reads. */
    private readonly redis: Redis,
    /** Acquisitions, which may block on WAIT: kept off the renewal connection. */
    private readonly durable: Redis,
    readonly key: string,
    private readonly options: RedisLeaseOptions = {},
  ) {}

  /** Takes the lease if free. Throws LeaseNotDurableError if a replica did not acknowledge it in time. */
  async tryAcquire(owner: string, ttlMs: number): Promise<LeaseAttempt> {
    const [ok, value, n] = await ACQUIRE.run<[number, string, number]>(
      this.durable,
      [this.key, `${this.key}:fence`],
      [owner, ttlMs, this.options.channel ?? ''],
    );
    if (ok !== 1) return { acquired: false, holder: value, remainingMs: Math.max(0, n) };
    if (this.options.requireReplicaAck !== false) {
      const acked = await this.durable.wait(1, this.options.ackTimeoutMs ?? 500);
      if (acked < 1) {
        await this.release(value).catch(() => undefined);
        throw new LeaseNotDurableError(this.key);
      }
    }
    return { acquired: true, token: Number(n), value };
  }

  /** Extends the lease if `value` still holds it. */
  async extend(value: string, ttlMs: number): Promise<boolean> {
    return (await EXTEND.run<number>(this.redis, [this.key], [value, ttlMs])) === 1;
  }

  /** Releases the lease if `value` still holds it. */
  async release(value: string): Promise<boolean> {
    return (
      (await RELEASE.run<number>(this.redis, [this.key], [value, this.options.channel ?? ''])) === 1
    );
  }
}

/** The owner part of a lease value (`owner|token`). */
export function ownerOf(value: string | undefined): string | undefined {
  return value?.slice(0, value.lastIndexOf('|'));
}
