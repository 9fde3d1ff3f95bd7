import os from 'node:os';
import { z } from 'zod';
import { backendSettings, requireEtcdWhenChosen } from './backends';
import { csv, port } from './config';
import { DATASTORE_PASSWORD_KEYS, redisAuthSettings } from './redis-auth';
import { messageKeySettings, resolveMessageKeys } from './message-keys';
import { isDevProfile, profileSetting, refuseDevOnlySecrets, secretSetting } from './secrets';

/** `mariadb-1@127.0.0.1:3407` -> `{ name, host, port }`. */
export const nodeAddress = () =>
  z.string().transform((s, ctx) => {
    const m = /^([\w.-]+)@([^:@\s]+):(\d{1,5})$/.exec(s.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `expected name@host:port, got "${s}"` });
      return z.NEVER;
    }
    return { name: m[1], host: m[2], port: Number(m[3]) };
  });

/** `127.0.0.1:26479,127.0.0.1:26480` -> `[{ host, port }]`. */
export const hostPorts = () =>
  csv().transform((items, ctx) =>
    items.map((s) => {
      const m = /^([^:\s]+):(\d{1,5})$/.exec(s);
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `expected host:port, got "${s}"` });
        return { host: '', port: 0 };
      }
      return { host: m[1], port: Number(m[2]) };
    }),
  );

/**
 * Settings every stayline service shares. Secrets have no default unless
 * `STAYLINE_PROFILE=dev` (the native stack and the compose file's default
 * profile), and a public `dev-only-*` value is refused in any other profile
 * (docs/security.md); so is a message key of the dev derivation.
 */
export function serviceConfigSchema<S extends z.ZodRawShape>(
  service: string,
  extra: S,
  env: NodeJS.ProcessEnv = process.env,
) {
  const dev = isDevProfile(env);
  const schema = z.object({
    /** `dev`: secrets may be (and default to) their public dev-only values. Unset: not dev. */
    STAYLINE_PROFILE: profileSetting(),
    SERVICE_NAME: z.literal(service).default(service as never),
    /** Unique per instance; by default the host's name and the pid (a container's pid is the same in all). */
    INSTANCE_ID: z
      .string()
      .regex(/^[\w.-]{1,64}$/)
      .default(`${service}-${os.hostname().slice(0, 24)}-${process.pid}`),
    /** Address to bind. */
    HOST: z.string().default('127.0.0.1'),
    /**
     * Address other services and the gateway use to reach this instance. `auto`: this
     * host's own IPv4 address (an instance added with `docker compose up --scale` has no
     * name of its own).
     */
    ADVERTISE_HOST: z
      .string()
      .optional()
      .transform((h) => (h === 'auto' ? ownAddress() : h)),
    HTTP_PORT: port(),
    TCP_PORT: port(),
    VERSION: z.string().default(process.env.npm_package_version ?? '0.0.0'),
    DB_PRIMARY: nodeAddress(),
    DB_REPLICAS: z
      .string()
      .default('')
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .pipe(z.array(nodeAddress())),
    DB_NAME: z.string().default(service),
    /** Its own MariaDB user, with rights on its own database only (docs/patterns/replication.md). */
    DB_USER: z.string().default(`stayline_${service}`),
    DB_PASSWORD: secretSetting(dev, `dev-only-db-${service}`),
    REDIS_SENTINELS: hostPorts(),
    REDIS_MASTER_NAME: z.string().default('stayline'),
    ...redisAuthSettings,
    /** Registry and coordination each on Redis (default) or etcd (docs/patterns/coordinator.md). */
    ...backendSettings,
    /**
     * Its own key, which signs its messages to other services, and the public keys of the
     * services it takes messages from (message-keys.ts; derived in the dev profile when unset).
     */
    ...messageKeySettings,
    /** After deregistering on SIGTERM, keep serving this long: callers and the gateway learn of the removal first. */
    DRAIN_DELAY_MS: z.coerce.number().int().min(0).default(500),
    /** The `iss` of the access tokens accepted (the auth service's AUTH_ISSUER). */
    AUTH_ISSUER: z.string().min(1).default('stayline-auth'),
    /** The `aud` the tokens must name (the auth service's AUTH_AUDIENCE). */
    AUTH_AUDIENCE: z.string().min(1).default('stayline'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    ...extra,
  });
  return schema
    .superRefine(requireEtcdWhenChosen)
    .superRefine(refuseDevOnlySecrets(['DB_PASSWORD', ...DATASTORE_PASSWORD_KEYS]))
    .transform((c, ctx) => resolveMessageKeys(service, c, ctx));
}

/** The first IPv4 address of this host that is not loopback. */
export function ownAddress(interfaces = os.networkInterfaces()): string {
  for (const list of Object.values(interfaces))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error('ADVERTISE_HOST=auto: this host has no IPv4 address but loopback');
}
