import {
  DEFAULT_GATEWAY_LIMITS,
  GatewayLimits,
  isRequestRate,
  MAX_CONNECTIONS_PER_CLIENT,
} from '@stayline/gateway';
import {
  backendSettings,
  DATASTORE_PASSWORD_KEYS,
  profileSetting,
  redisAuthSettings,
  refuseDevOnlySecrets,
  requireEtcdWhenChosen,
} from '@stayline/service-runtime';
import { z } from 'zod';

const port = () => z.coerce.number().int().min(1).max(65535);
const ms = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
/** A rate as nginx's limit_req_zone writes it. */
const rate = (fallback: string) =>
  z
    .string()
    .refine(isRequestRate, 'expected requests per second or minute, e.g. 1r/s or 30r/m')
    .default(fallback);
/** Requests above a rate one client may send at once. */
const burst = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/** `127.0.0.1:26479,127.0.0.1:26480` -> `[{ host, port }]`. */
const hostPorts = () =>
  z.string().transform((s, ctx) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map((item) => {
        const m = /^([^:\s]+):(\d{1,5})$/.exec(item);
        if (!m) ctx.addIssue({ code: 'custom', message: `expected host:port, got "${item}"` });
        return { host: m?.[1] ?? '', port: Number(m?.[2] ?? 0) };
      }),
  );

const syncSettings = z.object({
  /** `dev` lets its Redis and etcd passwords be public `dev-only-*` values; any other profile refuses them. */
  STAYLINE_PROFILE: profileSetting(),
  REDIS_SENTINELS: hostPorts(),
  REDIS_MASTER_NAME: z.string().default('stayline'),
  /** Its Redis user (`stayline-gateway-sync`): it may read and watch the registry, nothing else. */
  ...redisAuthSettings,
  /** The registry it reads: the services' own setting (docs/patterns/coordinator.md). */
  DISCOVERY_BACKEND: backendSettings.DISCOVERY_BACKEND,
  ETCD_ENDPOINTS: backendSettings.ETCD_ENDPOINTS,
  ETCD_USERNAME: backendSettings.ETCD_USERNAME,
  ETCD_PASSWORD: backendSettings.ETCD_PASSWORD,
  /** nginx's prefix directory: the config, nginx.pid and the logs live there. */
  GATEWAY_PREFIX: z.string().min(1),
  /** Where nginx listens (rendered into the config). */
  GATEWAY_HOST: z.string().default('127.0.0.1'),
  GATEWAY_PORT: port(),
  /** The sync's own HTTP port: `/health/live`, `/health/ready`, `/upstreams`. */
  SYNC_HOST: z.string().default('127.0.0.1'),
  SYNC_PORT: port(),
  SYNC_DEBOUNCE_MS: ms(50),
  SYNC_RECONCILE_MS: ms(2_000),
  /** nginx reloads at most once per this interval: churn is coalesced (a lone change still goes out at once). */
  SYNC_MIN_RELOAD_INTERVAL_MS: ms(500),
  /** The share of requests traced end to end (nginx starts every trace): 0..1. */
  STAYLINE_TRACE_SAMPLE: z.coerce.number().min(0).max(1).default(1),
  /** Bookings per client address, as nginx writes a rate (`1r/s`, `30r/m`); see libs/gateway limits.ts. */
  GATEWAY_BOOKING_RATE: rate(DEFAULT_GATEWAY_LIMITS.bookingRate),
  /** Bookings above the rate one address may send at once. */
  GATEWAY_BOOKING_BURST: burst(DEFAULT_GATEWAY_LIMITS.bookingBurst),
  /** Requests to the API per bearer token, every method. */
  GATEWAY_TOKEN_REQUEST_RATE: rate(DEFAULT_GATEWAY_LIMITS.tokenRequestRate),
  GATEWAY_TOKEN_REQUEST_BURST: burst(DEFAULT_GATEWAY_LIMITS.tokenRequestBurst),
  /** Bookings per bearer token (stricter than its requests). */
  GATEWAY_TOKEN_BOOKING_RATE: rate(DEFAULT_GATEWAY_LIMITS.tokenBookingRate),
  GATEWAY_TOKEN_BOOKING_BURST: burst(DEFAULT_GATEWAY_LIMITS.tokenBookingBurst),
  /** Requests one client address may have in progress at once (nginx's limit_conn). */
  GATEWAY_CONNECTIONS_PER_CLIENT: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_CONNECTIONS_PER_CLIENT)
    .default(DEFAULT_GATEWAY_LIMITS.connectionsPerClient),
  /** Whether the services' X-Instance-Id reaches clients (`true`/`false`); hidden by default. */
  GATEWAY_EXPOSE_INSTANCE_ID: z
    .enum(['true', 'false', '1', '0'], { message: 'expected true or false' })
    .default(DEFAULT_GATEWAY_LIMITS.exposeInstanceId ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1'),
  /** The nginx binary: a path, or a name looked up on PATH (Debian's is /usr/sbin/nginx). */
  NGINX_BIN: z.string().default('nginx'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
/** The gateway sync's environment; the stack kit sets it (tools/stack-kit/src/lib/whole-stack.ts). */
export const syncConfigSchema = syncSettings
  .superRefine(requireEtcdWhenChosen)
  .superRefine(refuseDevOnlySecrets(DATASTORE_PASSWORD_KEYS));
export type SyncConfig = z.infer<typeof syncConfigSchema>;

/** Validates the environment and fails fast, naming every bad variable. */
export function syncConfig(env: NodeJS.ProcessEnv = process.env): SyncConfig {
  const parsed = syncConfigSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
  throw new Error(`invalid gateway-sync configuration:\n  ${problems.join('\n  ')}`);
}

/** The gateway's per-client limits (and whether it shows X-Instance-Id) from the validated environment. */
export function syncLimits(c: SyncConfig): GatewayLimits {
  return {
    bookingRate: c.GATEWAY_BOOKING_RATE,
    bookingBurst: c.GATEWAY_BOOKING_BURST,
    tokenRequestRate: c.GATEWAY_TOKEN_REQUEST_RATE,
    tokenRequestBurst: c.GATEWAY_TOKEN_REQUEST_BURST,
    tokenBookingRate: c.GATEWAY_TOKEN_BOOKING_RATE,
    tokenBookingBurst: c.GATEWAY_TOKEN_BOOKING_BURST,
    connectionsPerClient: c.GATEWAY_CONNECTIONS_PER_CLIENT,
    exposeInstanceId: c.GATEWAY_EXPOSE_INSTANCE_ID,
  };
}
