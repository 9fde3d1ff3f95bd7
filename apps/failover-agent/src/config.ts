import {
  csv,
  hostPorts,
  isDevProfile,
  loadConfig,
  nodeAddress,
  port,
  profileSetting,
  redisAuthSettings,
  refuseDevOnlySecrets,
  DATASTORE_PASSWORD_KEYS,
  secretSetting,
} from '@stayline/service-runtime';
import { z } from 'zod';

const ms = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
/** `mariadb-1@127.0.0.1:3407,mariadb-2@127.0.0.1:3408` -> `[{ name, host, port }]`. */
const nodes = () =>
  z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(nodeAddress()));

/**
 * The failover agent's environment (docs/patterns/failover.md). Secrets have no
 * default unless `STAYLINE_PROFILE=dev` (the native stack), and a public
 * `dev-only-*` value is refused in any other profile (docs/security.md).
 */
export function agentConfigSchema(env: NodeJS.ProcessEnv = process.env) {
  const dev = isDevProfile(env);
  const secret = (devDefault: string) => secretSetting(dev, devDefault);
  const schema = z.object({
    /** `dev`: secrets may be (and default to) their public dev-only values. Unset: not dev. */
    STAYLINE_PROFILE: profileSetting(),
    /** Unique per agent process: its candidate id in the election and in the registry. */
    AGENT_ID: z
      .string()
      .regex(/^[\w.-]{1,64}$/)
      .default(`failover-agent-${process.pid}`),
    HOST: z.string().default('127.0.0.1'),
    HTTP_PORT: port(),
    /** Every MariaDB node the agent manages, `name@host:port`, as services reach them. */
    MARIADB_NODES: nodes().refine((n) => n.length >= 2, 'at least a primary and a replica'),
    /** The agent's own path to some nodes when it differs (a proxy, a tunnel), `name@host:port`. */
    MARIADB_VIA: nodes(),
    STAYLINE_DB_ADMIN_USER: z.string().default('stayline_admin'),
    STAYLINE_DB_ADMIN_PASSWORD: secret('dev-only-admin'),
    STAYLINE_DB_REPL_USER: z.string().default('stayline_repl'),
    STAYLINE_DB_REPL_PASSWORD: secret('dev-only-repl'),
    /** The coordinator: Redis behind Sentinel. */
    REDIS_SENTINELS: hostPorts(),
    REDIS_MASTER_NAME: z.string().default('stayline'),
    /** The agents' Redis user (`stayline-agent`), also used to ask each Redis node its ROLE. */
    ...redisAuthSettings,
    /** Redis nodes to register in discovery, `name@host:port` (roles read from each node). */
    REDIS_NODES: nodes(),
    /**
     * The admin routes (switchover, add a node) take an access token with the `admin`
     * scope, verified with the auth service's published keys, fetched from an auth
     * instance the registry lists: `iss` and `aud` accepted, as the services' own.
     */
    AUTH_ISSUER: z.string().min(1).default('stayline-auth'),
    AUTH_AUDIENCE: z.string().min(1).default('stayline'),
    /** Where the auth instances are looked up: the registry the services register in. */
    DISCOVERY_BACKEND: z.enum(['redis', 'etcd']).default('redis'),
    PROBE_INTERVAL_MS: ms(250),
    PROBE_TIMEOUT_MS: ms(300),
    /** Consecutive failed probes before the primary is suspected (then the replicas are asked). */
    PROBE_FAILURES: z.coerce.number().int().min(1).default(3),
    /** The leader's lease: a killed leader is replaced within it. */
    ELECTION_TTL_MS: ms(2_000),
    /** Period of the slower duties: fences, rejoins, semi-sync, registrations. */
    RECONCILE_INTERVAL_MS: ms(1_000),
    /** How long a promoted replica may take to apply its relay log. */
    CATCH_UP_TIMEOUT_MS: ms(10_000),
    /** How long to wait for a replica to attach to a new primary as a semi-sync client. */
    SEMI_SYNC_WAIT_MS: ms(5_000),
    /** Writes paused at most this long by a planned switchover before it gives up. */
    SWITCHOVER_TIMEOUT_MS: ms(5_000),
    /**
     * A fenced former primary that is back, read-only and not replicating: `manual` waits for
     * an operator (`npm run stack:rejoin`, which restarts it); `auto` points it at the primary
     * itself once its logged history is one the primary holds (a node restarted with
     * `--init-rpl-role=SLAVE` has rolled back what no replica acknowledged), as compose does.
     */
    REJOIN_FENCED: z.enum(['auto', 'manual']).default('manual'),
    /**
     * A fenced node holding transactions the primary lacks (errant GTIDs: logged by an
     * isolated primary, never acknowledged): `auto` rebuilds it from the primary's
     * snapshot, discarding them (mariadb/rebuild.ts); `manual` reports it and waits.
     */
    REBUILD_ERRANT: z.enum(['auto', 'manual']).default('manual'),
    /** `false`: detect and report only (a human promotes). */
    AUTO_FAILOVER: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    /**
     * Where the agents elect their leader. `etcd` (a quorum store: a lease cannot vanish in a
     * failover, so two agents can never both promote) needs ETCD_ENDPOINTS; `redis` is the fallback.
     */
    COORDINATION_BACKEND: z.enum(['redis', 'etcd']).default('redis'),
    /** `http://127.0.0.1:2479,http://127.0.0.1:2480,...` */
    ETCD_ENDPOINTS: z.string().optional(),
    /** The agents' etcd user (`stayline-agent`, libs/contracts etcd-auth.ts) and its password. */
    ETCD_USERNAME: z.string().min(1).optional(),
    ETCD_PASSWORD: z.string().min(1).optional(),
    /** How a primary that cannot be reached is stopped for good before a promotion. */
    STONITH: z.enum(['native', 'command', 'none']).default('none'),
    /** `native`: the launcher's state file (`.stack/state.json`), where the node's pid is. */
    STONITH_STATE_FILE: z.string().optional(),
    /** `command`: run with NODE_NAME, NODE_HOST, NODE_PORT set, e.g. `docker kill stayline-$NODE_NAME-1`. */
    STONITH_COMMAND: z.string().optional(),
    /** Tests only: named points where the agent waits (`after-fence,after-promote`). */
    FAILOVER_PAUSE_POINTS: csv().default([]),
    FAILOVER_PAUSE_MS: ms(30_000),
    /** A paused agent resumes as soon as this file exists. */
    FAILOVER_PAUSE_FILE: z.string().optional(),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  });
  const refuseDevOnly = refuseDevOnlySecrets([
    'STAYLINE_DB_ADMIN_PASSWORD',
    'STAYLINE_DB_REPL_PASSWORD',
    ...DATASTORE_PASSWORD_KEYS,
  ]);
  return schema.superRefine((c, ctx) => {
    refuseDevOnly(c, ctx);
    if (c.DISCOVERY_BACKEND === 'etcd' && !c.ETCD_ENDPOINTS?.trim())
      ctx.addIssue({
        code: 'custom',
        path: ['ETCD_ENDPOINTS'],
        message: 'required when DISCOVERY_BACKEND=etcd',
      });
  });
}

export type AgentConfig = z.infer<ReturnType<typeof agentConfigSchema>>;

/** The validated environment; throws naming every bad variable. */
export function agentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const c = loadConfig(agentConfigSchema(env), env);
  if (c.STONITH === 'native' && !c.STONITH_STATE_FILE)
    throw new Error('invalid configuration: STONITH=native needs STONITH_STATE_FILE');
  if (c.STONITH === 'command' && !c.STONITH_COMMAND)
    throw new Error('invalid configuration: STONITH=command needs STONITH_COMMAND');
  return c;
}
