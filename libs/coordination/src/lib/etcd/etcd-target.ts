/**
 * Connecting to the etcd cluster, the quorum coordinator (docs/patterns/coordinator.md).
 * Every unary call has a deadline; a member that fails three calls in a row is
 * skipped for 500 ms and the call retried on another member, so a killed member
 * costs one failed attempt, not a stall.
 */
import { circuitBreaker, ConsecutiveBreaker, handleWhen, retry } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';

export interface EtcdTarget {
  /** Client URLs of the members: `http://127.0.0.1:2479`. */
  endpoints: string[];
  /**
   * The etcd user of this process's role (libs/contracts etcd-auth.ts) and its
   * password. With both set the client authenticates (simple tokens: etcd
   * forgets an idle token after `--auth-token-ttl`, 300 s by default, and
   * etcd3 authenticates again when a call is refused for an invalid token).
   */
  username?: string;
  password?: string;
}

/** The same members, logged in as `username` (no change when either is missing). */
export function withEtcdLogin(
  target: EtcdTarget,
  username?: string,
  password?: string,
): EtcdTarget {
  return username && password ? { ...target, username, password } : target;
}

/** `ETCD_ENDPOINTS=http://127.0.0.1:2479,http://127.0.0.1:2480` (a bare host:port gets `http://`). */
export function parseEtcdEndpoints(value: string): EtcdTarget {
  const endpoints = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (/^https?:\/\//.test(s) ? s : `http://${s}`));
  if (!endpoints.length) throw new Error('no etcd endpoint given');
  return { endpoints };
}

/** `ETCD_USERNAME`/`ETCD_PASSWORD` of a process's environment (fixtures, scripts). */
export function etcdLoginFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Pick<EtcdTarget, 'username' | 'password'> {
  return env.ETCD_USERNAME && env.ETCD_PASSWORD
    ? { username: env.ETCD_USERNAME, password: env.ETCD_PASSWORD }
    : {};
}

export interface EtcdConnectOptions {
  /** Deadline of each unary call. Default 1000 ms. */
  callTimeoutMs?: number;
  /**
   * With a login: how often the client uses its token when nothing else does
   * (default 30 s, well inside etcd's default `--auth-token-ttl` of 300 s).
   */
  tokenKeepAliveMs?: number;
}

/** A key no role may read: a refused read still counts as a use of the token (etcd resets its TTL). */
const TOKEN_KEEPALIVE_KEY = '/stayline-token-keepalive';

export function connectEtcd(target: EtcdTarget, options: EtcdConnectOptions = {}): Etcd3 {
  const callTimeoutMs = options.callTimeoutMs ?? 1_000;
  const client = new Etcd3({
    hosts: target.endpoints,
    ...(target.username && target.password
      ? { auth: { username: target.username, password: target.password } }
      : {}),
    dialTimeout: callTimeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 500,
          breaker: new ConsecutiveBreaker(3),
        }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 2 }),
    },
  });
  if (target.username && target.password)
    keepTokenInUse(client, options.tokenKeepAliveMs ?? 30_000);
  return client;
}

/**
 * etcd's simple tokens lapse after `--auth-token-ttl` seconds without use. etcd3
 * logs in again when a unary call is refused for an invalid token, but not for
 * its streams: a watch stream keeps the token it opened with, and a watch
 * created on it after that token lapsed is cancelled ("invalid auth token").
 * Leases renewed over their keep-alive stream and watches that only listen use
 * no token, so a quiet process (a follower agent) would lose it; one unary call
 * now and then keeps it alive, and logs in afresh if it was lost anyway.
 */
function keepTokenInUse(client: Etcd3, everyMs: number): void {
  const timer = setInterval(() => {
    client
      .get(TOKEN_KEEPALIVE_KEY)
      .exec()
      .catch(() => undefined); // permission denied, by design; anything else shows on the next real call
  }, everyMs);
  timer.unref();
  const close = client.close.bind(client);
  client.close = () => {
    clearInterval(timer);
    close();
  };
}

/**
 * etcd leases count whole seconds: a TTL in ms is rounded up, and the server
 * raises it to its minimum (1.5 x the election timeout, rounded up: 2 s with a
 * 1 s election timeout). A crashed holder is therefore noticed after that many
 * seconds (plus up to 0.5 s, the server's expiry sweep), never sooner.
 */
export function leaseSeconds(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs / 1_000));
}
