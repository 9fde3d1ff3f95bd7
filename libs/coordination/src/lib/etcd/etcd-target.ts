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

export interface EtcdConnectOptions {
  /** Deadline of each unary call. Default 1000 ms. */
  callTimeoutMs?: number;
}

export function connectEtcd(target: EtcdTarget, options: EtcdConnectOptions = {}): Etcd3 {
  const callTimeoutMs = options.callTimeoutMs ?? 1_000;
  return new Etcd3({
    hosts: target.endpoints,
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
