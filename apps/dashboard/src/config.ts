import {
  backendSettings,
  csv,
  hostPorts,
  loadConfig,
  nodeAddress,
  port,
  profileSetting,
  redisAuthSettings,
  refuseDevOnlySecrets,
  DATASTORE_PASSWORD_KEYS,
  requireEtcdWhenChosen,
  secretSetting,
  isDevProfile,
} from '@stayline/service-runtime';
import { z } from 'zod';

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/**
 * The dashboard's environment. It has no database of its own and no TCP
 * port: it only reads (the registry, health endpoints, the coordinator,
 * read-only SQL probes). Secrets have no default unless `STAYLINE_PROFILE=dev`,
 * and a public `dev-only-*` value is refused in any other profile.
 */
export function dashboardConfigSchema(env: NodeJS.ProcessEnv = process.env) {
  const dev = isDevProfile(env);
  const schema = z.object({
    /** `dev`: secrets may be (and default to) their public dev-only values. Unset: not dev. */
    STAYLINE_PROFILE: profileSetting(),
    SERVICE_NAME: z.literal('dashboard').default('dashboard'),
    INSTANCE_ID: z
      .string()
      .regex(/^[\w.-]{1,64}$/)
      .default(`dashboard-${process.pid}`),
    HOST: z.string().default('127.0.0.1'),
    /** Address the gateway uses to reach this instance. */
    ADVERTISE_HOST: z.string().optional(),
    HTTP_PORT: port(),
    VERSION: z.string().default(env.npm_package_version ?? '0.0.0'),
    REDIS_SENTINELS: hostPorts(),
    REDIS_MASTER_NAME: z.string().default('stayline'),
    /** Its Redis user (`stayline-dashboard`): reads, and writes its own registration only. */
    ...redisAuthSettings,
    /** Services whose instances are shown (watched in the registry). */
    DASHBOARD_SERVICES: csv().default([
      'reservation',
      'payment',
      'recommendation',
      'scrap',
      'auth',
      'dashboard',
    ]),
    /** Its MariaDB user: REPLICA MONITOR and BINLOG MONITOR only, no table. */
    DB_USER: z.string().default('stayline_monitor'),
    DB_PASSWORD: secretSetting(dev, 'dev-only-db-monitor'),
    /** MariaDB nodes known before the agents publish a topology, `name@host:port`. */
    MARIADB_NODES: csv().default([]).pipe(z.array(nodeAddress())),
    /** The failover agents' HTTP addresses, `name@host:port` (they do not register in discovery). */
    FAILOVER_AGENTS: csv().default([]).pipe(z.array(nodeAddress())),
    /** The registry watched and the flags shown: the same backends the services use; ETCD_ENDPOINTS also feeds the etcd panel (none: no panel). */
    ...backendSettings,
    /**
     * What the page, its event stream and /dashboard/snapshot show. `public`
     * (the default, for a page anyone may open): services, instance ids,
     * health, roles, lag, breakers, the failover leader, its fencing token and
     * the failovers with their timings; no host, port, address, version, GTID
     * or raw error message. `full`: all of it, addresses included (dev stacks).
     */
    DASHBOARD_VIEW: z.enum(['public', 'full']).default('public'),
    /**
     * The Prometheus whose HTTP API feeds the page's charts (`/dashboard/charts`): only
     * a fixed set of named queries is ever sent to it. Empty: no charts ("not configured").
     */
    PROMETHEUS_URL: z
      .string()
      .trim()
      .default('http://127.0.0.1:9490')
      .refine((v) => v === '' || (/^https?:\/\//.test(v) && URL.canParse(v)), {
        message: 'an http(s) URL, or empty for no charts',
      })
      .transform((v) => v.replace(/\/+$/, '')),
    /** Deadline of one chart query (the same is sent to Prometheus as its `timeout`). */
    PROMETHEUS_TIMEOUT_MS: ms(3_000),
    /** How many recent traces the trace page keeps in memory (the least recently fed leave first). */
    TRACES_KEPT: z.coerce.number().int().min(10).max(100_000).default(2_000),
    /** How often health endpoints, databases, Sentinels, etcd and agents are polled. Registry changes are pushed, not polled. */
    POLL_INTERVAL_MS: ms(1_000),
    /** Timeout of one probe. */
    PROBE_TIMEOUT_MS: ms(800),
    /** Comment lines on idle event streams, below nginx's proxy_read_timeout (10 s). */
    SSE_KEEPALIVE_MS: ms(5_000),
    /** Events kept for the timeline. */
    TIMELINE_SIZE: ms(200),
    DRAIN_DELAY_MS: z.coerce.number().int().min(0).default(500),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  });
  return schema
    .superRefine(requireEtcdWhenChosen)
    .superRefine(refuseDevOnlySecrets(['DB_PASSWORD', ...DATASTORE_PASSWORD_KEYS]));
}
export type DashboardConfig = z.infer<ReturnType<typeof dashboardConfigSchema>>;

export function dashboardConfig(env: NodeJS.ProcessEnv = process.env): DashboardConfig {
  return loadConfig(dashboardConfigSchema(env), env);
}
