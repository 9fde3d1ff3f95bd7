import { Resolver } from 'node:dns/promises';
import { FetchFailedError } from './fetch-errors';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address of a host name, or a FetchFailedError (`dns_failed`, `timeout`) by the deadline. */
export type ResolveHost = (host: string, deadline: number) => Promise<ResolvedAddress[]>;

export interface DnsOptions {
  /** Servers to ask (`127.0.0.1:5353`, `[::1]:53`); default: the system's (resolv.conf). */
  servers?: string[];
}

/** Answers that mean "no address of this family", not a failure. */
const NO_ADDRESS = new Set(['ENODATA', 'ENOTFOUND', 'ENONAME']);

/**
 * Resolves A and AAAA over DNS with c-ares, which runs on the event loop and
 * can be cancelled: at the deadline the queries are abandoned and the fetch
 * fails with `timeout`. (`dns.lookup` runs getaddrinfo on libuv's small thread
 * pool, which cannot be cancelled: a resolver that never answers would keep a
 * thread, and enough of them would stall file and crypto work too.)
 *
 * Names in /etc/hosts are not seen, so only names DNS knows are fetched;
 * `localhost` is refused by the guard before any lookup.
 */
export function dnsResolver(options: DnsOptions = {}): ResolveHost {
  return async (host, deadline) => {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw timeUp(host);
    const resolver = new Resolver({
      // per try; c-ares retries once, the deadline below bounds the whole
      timeout: Math.max(100, Math.min(2_000, Math.floor(remaining / 2))),
      tries: 2,
    });
    if (options.servers?.length) resolver.setServers(options.servers);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        resolver.cancel();
        reject(timeUp(host));
      }, remaining);
    });
    try {
      const [v4, v6] = await Promise.race([
        Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]),
        expired,
      ]);
      const addresses: ResolvedAddress[] = [
        ...(v4.status === 'fulfilled'
          ? v4.value.map((a) => ({ address: a, family: 4 as const }))
          : []),
        ...(v6.status === 'fulfilled'
          ? v6.value.map((a) => ({ address: a, family: 6 as const }))
          : []),
      ];
      if (addresses.length) return addresses;
      const codes = [v4, v6].map((r) =>
        r.status === 'rejected' ? String((r.reason as { code?: string }).code ?? 'error') : 'none',
      );
      const missing = codes.every((c) => NO_ADDRESS.has(c) || c === 'none');
      throw new FetchFailedError(
        'dns_failed',
        missing
          ? "the URL's host name does not exist"
          : "the URL's host name could not be resolved",
        `${host}: A ${codes[0]}, AAAA ${codes[1]}`,
      );
    } finally {
      clearTimeout(timer);
    }
  };
}

function timeUp(host: string): FetchFailedError {
  return new FetchFailedError(
    'timeout',
    "time limit reached while resolving the URL's host name",
    `${host}: no DNS answer before the deadline`,
  );
}
