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
   * Once the cached set is this old (default 80 % of `cacheMaxAgeMs`), a
   * verification also fetches it again in the background, and again every
   * `refreshRetryMs` (default 5 s) while that fails; the cached set is used
   * meanwhile. So a moment without auth near the end of the cache's life is
   * ridden out, and the cache's bound is not stretched.
   */
  refreshAheadMs?: number;
  refreshRetryMs?: number;
  /**
   * How to fetch the document instead of `fetch(url)`: e.g. through a balanced
   * client over the instances discovery lists, the URL's path being what counts.
   */
  fetch?: (url: string, init: { headers: Headers; signal: AbortSignal }) => Promise<Response>;
}

/**
 * The auth service's published keys (`GET /api/auth/.well-known/jwks.json`),
 * as a verifier reads them: fetched on first use, cached, fetched again on an
 * unknown `kid` at most once per cooldown, and when the cache is stale; and
 * fetched ahead, in the background, from `refreshAheadMs` on. Without the
 * refresh ahead, the first verification after ten minutes had to fetch, and a
 * moment without an auth instance registered (a restart, a lease renewed
 * late on a loaded host) answered that request 503. The cache still ends
 * `cacheMaxAgeMs` after the last fetch that succeeded: past that, a key auth
 * removed is no longer trusted, whatever else fails.
 */
export function remoteKeySet(url: string | URL, o: RemoteKeySetOptions = {}): JWTVerifyGetKey {
  const cacheMaxAgeMs = o.cacheMaxAgeMs ?? 10 * 60_000;
  const refreshAheadMs = o.refreshAheadMs ?? cacheMaxAgeMs * 0.8;
  const refreshRetryMs = o.refreshRetryMs ?? 5_000;
  const get = o.fetch ?? ((u, init) => fetch(u, init));
  let fetchedAt = 0;
  let triedAt = 0;
  const remote = createRemoteJWKSet(new URL(url), {
    cacheMaxAge: cacheMaxAgeMs,
    cooldownDuration: o.refetchCooldownMs ?? 30_000,
    timeoutDuration: o.timeoutMs ?? 2_000,
    [customFetch]: async (u: string, init: { headers: Headers; signal: AbortSignal }) => {
      const res = await get(u, init);
      if (res.ok) fetchedAt = Date.now();
      return res;
    },
  });
  return async (header, token) => {
    const now = Date.now();
    if (
      fetchedAt &&
      remote.fresh &&
      now - fetchedAt >= refreshAheadMs &&
      now - triedAt >= refreshRetryMs &&
      !remote.reloading
    ) {
      triedAt = now;
      // a failure is retried by a later verification; the cached set serves meanwhile
      remote.reload().catch(() => undefined);
    }
    return remote(header, token);
  };
}
