import { REDIS_ROLES, RedisRole } from '@stayline/contracts';

/**
 * Database and Redis credentials of a stack. The defaults are a clearly marked
 * DEV PROFILE for a loopback-only stack; every one can be set from the
 * environment, and the compose file and production deployments must set them.
 */
export interface StackCredentials {
  /** Administrative MariaDB user (bootstrap, failover agent). */
  admin: { user: string; password: string };
  /** MariaDB replication user. */
  replication: { user: string; password: string };
  /** The services' MariaDB user, with rights on the service databases only. */
  app: { user: string; password: string };
  /**
   * The password of each Redis ACL user, by role (libs/coordination/src/lib/redis/acl.ts).
   * The admin's is also the Sentinels' admin password.
   */
  redis: Record<RedisRole, string>;
  /** The Sentinels' client user's password (every process of the stack asks the Sentinels with it). */
  sentinelClient: string;
}

/** `STAYLINE_REDIS_<ROLE>_PASSWORD`: `STAYLINE_REDIS_GATEWAY_SYNC_PASSWORD`... */
export function redisPasswordVariable(role: RedisRole): string {
  return `STAYLINE_REDIS_${role.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
}

export const SENTINEL_CLIENT_PASSWORD_VARIABLE = 'STAYLINE_SENTINEL_PASSWORD';

export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): StackCredentials {
  return {
    admin: {
      user: env.STAYLINE_DB_ADMIN_USER ?? 'stayline_admin',
      password: env.STAYLINE_DB_ADMIN_PASSWORD ?? 'dev-only-admin',
    },
    replication: {
      user: env.STAYLINE_DB_REPL_USER ?? 'stayline_repl',
      password: env.STAYLINE_DB_REPL_PASSWORD ?? 'dev-only-repl',
    },
    app: {
      user: env.STAYLINE_DB_USER ?? 'stayline',
      password: env.STAYLINE_DB_PASSWORD ?? 'dev-only-app',
    },
    redis: Object.fromEntries(
      REDIS_ROLES.map((role) => [
        role,
        env[redisPasswordVariable(role)] ?? `dev-only-redis-${role}`,
      ]),
    ) as Record<RedisRole, string>,
    sentinelClient: env[SENTINEL_CLIENT_PASSWORD_VARIABLE] ?? 'dev-only-sentinel-client',
  };
}

/**
 * The dev profile's ADMIN_TOKEN (public, like every `dev-only-*` value; as long
 * as the services require, 32 bytes or more): the secret the native stack's
 * services and the compose file's default derive their message key from. It
 * opens no admin route: those take the operator's token (`adminToken(stack)`).
 */
export const DEV_ADMIN_TOKEN = 'dev-only-admin-token-for-local-demos';

/** One database (schema) per service; no service reads another's tables. */
export const SERVICE_DATABASES = ['reservation', 'payment', 'recommendation', 'scrap'] as const;
