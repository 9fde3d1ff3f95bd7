import { REDIS_ROLES, RedisRole } from '@stayline/contracts';

/**
 * Database and Redis credentials of a stack. The defaults are a clearly marked
 * DEV PROFILE for a loopback-only stack; every one can be set from the
 * environment, and the compose file and production deployments must set them.
 */
export interface StackCredentials {
  /**
   * The failover agents' MariaDB user: replication control, read_only, fencing
   * and rebuilds (data rights on the service databases only), no GRANT, no
   * account management (docs/patterns/replication.md, "Accounts and grants").
   */
  admin: { user: string; password: string };
  /** MariaDB replication user: REPLICATION SLAVE only. */
  replication: { user: string; password: string };
  /** Each service's own MariaDB user: its own database(s) only, its migrations included. */
  services: Record<ServiceDatabase, { user: string; password: string }>;
  /** The dashboard's MariaDB user: replication state only, no table. */
  monitor: { user: string; password: string };
  /**
   * The test kits' MariaDB user (e2e specs, the bench, demos, fault-kit): reads
   * and writes the service databases to check what the services did. No service
   * or agent connects with it.
   */
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
    services: Object.fromEntries(
      SERVICE_DATABASES.map((db) => [
        db,
        {
          user: env[serviceDbVariable(db, 'USER')] ?? serviceDbUser(db),
          password: env[serviceDbVariable(db, 'PASSWORD')] ?? `dev-only-db-${db}`,
        },
      ]),
    ) as Record<ServiceDatabase, { user: string; password: string }>,
    monitor: {
      user: env.STAYLINE_DB_MONITOR_USER ?? 'stayline_monitor',
      password: env.STAYLINE_DB_MONITOR_PASSWORD ?? 'dev-only-db-monitor',
    },
    app: {
      user: env.STAYLINE_DB_KIT_USER ?? 'stayline_kit',
      password: env.STAYLINE_DB_KIT_PASSWORD ?? 'dev-only-db-kit',
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
 * The dev value of ADMIN_TOKEN, which the compose file and the Kubernetes
 * overlays still pass and no process reads any more (each service signs its
 * messages with a key of its own: SERVICE_SIGNING_KEY). The specs send it to
 * show that no such shared secret opens an admin route: those take the
 * operator's token (`adminToken(stack)`).
 */
export const DEV_ADMIN_TOKEN = 'dev-only-admin-token-for-local-demos';

/** One database (schema) per service; no service reads another's tables. */
export const SERVICE_DATABASES = ['reservation', 'payment', 'recommendation', 'scrap'] as const;
export type ServiceDatabase = (typeof SERVICE_DATABASES)[number];

export function isServiceDatabase(name: string): name is ServiceDatabase {
  return (SERVICE_DATABASES as readonly string[]).includes(name);
}

/** A service's MariaDB user by default: `stayline_reservation`... */
export function serviceDbUser(db: ServiceDatabase): string {
  return `stayline_${db}`;
}

/** `STAYLINE_DB_RESERVATION_USER`, `STAYLINE_DB_PAYMENT_PASSWORD`... */
export function serviceDbVariable(db: ServiceDatabase, what: 'USER' | 'PASSWORD'): string {
  return `STAYLINE_DB_${db.toUpperCase()}_${what}`;
}
