import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { DEFAULT_TOKEN_TTL_S, IssuedToken, TOKEN_ALGORITHM, TOKEN_TYPE } from './access-token';
import type { SigningKeySet } from './signing-key-set';

export interface TokenIssuerOptions {
  /** `iss`: who issues, e.g. `stayline-auth`. */
  issuer: string;
  /** `aud`: who the tokens are for, e.g. `stayline`. */
  audience: string;
  /** Lifetime of a token in seconds (default 15 minutes). */
  ttlSeconds?: number;
  /** The clock, in ms since the epoch. */
  now?: () => number;
}

/**
 * Issues access tokens signed with the newest key of a key set. The set is
 * read through a function on every issue, so a rotation (or a reload of the
 * state file) takes effect at once.
 */
export class TokenIssuer {
  readonly ttlSeconds: number;
  private readonly now: () => number;

  constructor(
    private readonly keys: () => SigningKeySet,
    private readonly o: TokenIssuerOptions,
  ) {
    this.ttlSeconds = o.ttlSeconds ?? DEFAULT_TOKEN_TTL_S;
    this.now = o.now ?? Date.now;
  }

  /** A token for `userId` carrying `scopes`. */
  async issue(userId: string, scopes: readonly string[]): Promise<IssuedToken> {
    const key = this.keys().current();
    const iat = Math.floor(this.now() / 1000);
    const scope = scopes.join(' ');
    const token = await new SignJWT({ scope })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: TOKEN_TYPE, kid: key.kid })
      .setIssuer(this.o.issuer)
      .setAudience(this.o.audience)
      .setSubject(userId)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + this.ttlSeconds)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { access_token: token, token_type: 'Bearer', expires_in: this.ttlSeconds, scope };
  }
}
