import type { RedisTarget } from '@stayline/coordination';
import { z } from 'zod';

/**
 * How a process logs in to Redis and to the Sentinels: the ACL user of its role
 * (libs/coordination/src/lib/redis/acl.ts) and that user's password, and the
 * Sentinels' client user. Unset, the client sends no credentials.
 */
export const redisAuthSettings = {
  /** The data nodes' ACL user of this process's role (`stayline-service`, ...). */
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  /** The Sentinels' user for clients (`stayline-client`). */
  REDIS_SENTINEL_USERNAME: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
};

/** The Redis settings of a validated config. */
export interface RedisConfig {
  REDIS_SENTINELS: Array<{ host: string; port: number }>;
  REDIS_MASTER_NAME: string;
  REDIS_USERNAME?: string;
  REDIS_PASSWORD?: string;
  REDIS_SENTINEL_USERNAME?: string;
  REDIS_SENTINEL_PASSWORD?: string;
}

/** The Redis behind the Sentinels, with this process's credentials. */
export function redisTargetOf(c: RedisConfig): RedisTarget {
  return {
    sentinels: c.REDIS_SENTINELS,
    masterName: c.REDIS_MASTER_NAME,
    ...sentinelAuthOf(c),
    ...(c.REDIS_USERNAME ? { username: c.REDIS_USERNAME } : {}),
    ...(c.REDIS_PASSWORD ? { password: c.REDIS_PASSWORD } : {}),
  };
}

/** The Sentinels' credentials alone (a client that talks to the Sentinels only). */
export function sentinelAuthOf(c: Partial<RedisConfig>): {
  sentinelUsername?: string;
  sentinelPassword?: string;
} {
  return {
    ...(c.REDIS_SENTINEL_USERNAME ? { sentinelUsername: c.REDIS_SENTINEL_USERNAME } : {}),
    ...(c.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: c.REDIS_SENTINEL_PASSWORD } : {}),
  };
}

/**
 * The passwords of a process's datastore logins (its Redis ACL user, the
 * Sentinels' client user, its etcd user): secrets like the others, so a public
 * `dev-only-*` one is refused outside the dev profile (refuseDevOnlySecrets).
 * Unset is allowed: no login, for a Redis or etcd without auth.
 */
export const DATASTORE_PASSWORD_KEYS = [
  'REDIS_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
  'ETCD_PASSWORD',
] as const;
