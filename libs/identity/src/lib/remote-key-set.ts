import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';

export interface RemoteKeySetOptions {
  /** How long a fetched key set is used before it is fetched again (default 10 minutes). */
  cacheMaxAgeMs?: number;
  /**
   * A token with an unknown `kid` makes the set fetch again (a rotation), but no
   * more often than this (default 30 s): garbage `kid`s cannot turn every
   * request into a fetch.
   */
  refetchCooldownMs?: number;
  /** Timeout of one fetch (default 2 s). */
  timeoutMs?: number;
  /**
   * How to fetch the document instead of `fetch(url)`: e.g. through a balanced
   * client over the instances discovery lists, the URL's path being what counts.
   */
  fetch?: (url: string, init: { headers: Headers; signal: AbortSignal }) => Promise<Response>;
}

/**
 * The auth service's published keys (`GET /api/auth/.well-known/jwks.json`),
 * as a verifier reads them: fetched on first use, cached, fetched again on an
 * unknown `kid` at most once per cooldown, and when the cache is stale.
 */
export function remoteKeySet(url: string | URL, o: RemoteKeySetOptions = {}): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(url), {
    cacheMaxAge: o.cacheMaxAgeMs ?? 10 * 60_000,
    cooldownDuration: o.refetchCooldownMs ?? 30_000,
    timeoutDuration: o.timeoutMs ?? 2_000,
    ...(o.fetch ? { [customFetch]: o.fetch } : {}),
  });
}
