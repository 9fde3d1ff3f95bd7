import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';

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
  });
}
