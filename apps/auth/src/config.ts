import { DEFAULT_TOKEN_TTL_S } from '@stayline/identity';
import {
  backendSettings,
  csv,
  DEV_ONLY_PREFIX,
  DEV_PROFILE,
  hostPorts,
  isDevProfile,
  loadConfig,
  ownAddress,
  port,
  profileSetting,
  redisAuthSettings,
  refuseDevOnlySecrets,
  DATASTORE_PASSWORD_KEYS,
  requireEtcdWhenChosen,
  secretSetting,
} from '@stayline/service-runtime';
import os from 'node:os';
import { z } from 'zod';

const positive = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/**
 * The auth service's environment. It has no database and no TCP port: its
 * users are the demo users, hashed at start-up, and its signing keys live in
 * a state file (`AUTH_KEYS_FILE`, the native stack: generated at first start,
 * mode 0600) or come from a secret (`AUTH_SIGNING_SECRETS`, compose and
 * Kubernetes). Secrets have no default unless `STAYLINE_PROFILE=dev`, and a
 * public `dev-only-*` one is refused in any other profile (docs/security.md).
 */
export function authConfigSchema(env: NodeJS.ProcessEnv = process.env) {
  const dev = isDevProfile(env);
  const secret = (devDefault: string) => secretSetting(dev, devDefault);
  const schema = z.object({
    STAYLINE_PROFILE: profileSetting(),
    SERVICE_NAME: z.literal('auth').default('auth'),
    INSTANCE_ID: z
      .string()
      .regex(/^[\w.-]{1,64}$/)
      .default(`auth-${os.hostname().slice(0, 24)}-${process.pid}`),
    HOST: z.string().default('127.0.0.1'),
    /** Address the gateway uses to reach this instance (`auto`: this host's IPv4 address). */
    ADVERTISE_HOST: z
      .string()
      .optional()
      .transform((h) => (h === 'auto' ? ownAddress() : h)),
    HTTP_PORT: port(),
    VERSION: z.string().default(env.npm_package_version ?? '0.0.0'),
    REDIS_SENTINELS: hostPorts(),
    REDIS_MASTER_NAME: z.string().default('stayline'),
    /** Its Redis user, the services' (`stayline-service`), and the Sentinels' client user. */
    ...redisAuthSettings,
    ...backendSettings,
    DRAIN_DELAY_MS: z.coerce.number().int().min(0).default(500),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    /** `iss` of the tokens, and what verifiers expect. */
    AUTH_ISSUER: z.string().min(1).default('stayline-auth'),
    /** `aud` of the tokens: the services that accept them. */
    AUTH_AUDIENCE: z.string().min(1).default('stayline'),
    /** Lifetime of an access token, in seconds (default 15 minutes). */
    AUTH_TOKEN_TTL_S: positive(DEFAULT_TOKEN_TTL_S),
    /** The signing keys' state file; generated (mode 0600) at first start. Or AUTH_SIGNING_SECRETS. */
    AUTH_KEYS_FILE: z.string().min(1).optional(),
    /** How often the state file is checked for a rotation another instance made. */
    AUTH_KEYS_RELOAD_MS: positive(1_000),
    /** Signing keys from configuration: random secrets, oldest first, the last one signs. */
    AUTH_SIGNING_SECRETS: csv()
      .optional()
      .pipe(
        z.array(z.string().min(16, 'each signing secret needs 16 characters or more')).optional(),
      ),
    /**
     * The demo users' passwords (alice and bob: scope `user`; admin, the operator:
     * `user admin`, what the admin routes of every service and agent ask for).
     */
    AUTH_ALICE_PASSWORD: secret('dev-only-alice-password'),
    AUTH_BOB_PASSWORD: secret('dev-only-bob-password'),
    AUTH_ADMIN_PASSWORD: secret('dev-only-admin-password'),
    /** scrypt's cost parameter N for the hashes made at start-up (a power of two). */
    AUTH_SCRYPT_N: positive(2 ** 15).refine((n) => (n & (n - 1)) === 0, 'a power of two'),
    /** Failed logins allowed per username and client address within the window, then 429. */
    AUTH_LOGIN_ATTEMPTS: positive(5),
    AUTH_LOGIN_WINDOW_S: positive(60),
    /**
     * Proxies in front of this service that append to X-Forwarded-For (the
     * gateway: 1). The client address is the entry that many from the right.
     */
    AUTH_TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).default(1),
  });
  const refuseDevOnly = refuseDevOnlySecrets([
    'AUTH_ALICE_PASSWORD',
    'AUTH_BOB_PASSWORD',
    'AUTH_ADMIN_PASSWORD',
    ...DATASTORE_PASSWORD_KEYS,
  ]);
  return schema.superRefine((c, ctx) => {
    requireEtcdWhenChosen(c, ctx);
    refuseDevOnly(c, ctx);
    if (
      c.STAYLINE_PROFILE !== DEV_PROFILE &&
      c.AUTH_SIGNING_SECRETS?.some((x) => x.startsWith(DEV_ONLY_PREFIX))
    )
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_SIGNING_SECRETS'],
        message: `holds a public ${DEV_ONLY_PREFIX}* value, accepted only with STAYLINE_PROFILE=dev: set a secret of its own`,
      });
    if (!c.AUTH_KEYS_FILE === !c.AUTH_SIGNING_SECRETS?.length)
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_KEYS_FILE'],
        message: 'set exactly one of AUTH_KEYS_FILE (a state file) and AUTH_SIGNING_SECRETS',
      });
  });
}
export type AuthConfig = z.infer<ReturnType<typeof authConfigSchema>>;

export function authConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return loadConfig(authConfigSchema(env), env);
}
