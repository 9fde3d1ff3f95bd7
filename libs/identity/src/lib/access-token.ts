/**
 * What a stayline access token says (docs/patterns/identity.md): a JWT signed
 * with the auth service's private key, header `{ alg: EdDSA, typ: at+jwt, kid }`,
 * claims `iss`, `aud`, `sub` (the user id), `scope` (space separated), `iat`,
 * `nbf`, `exp` and `jti`.
 */

/** The one signing algorithm: Ed25519 signatures (RFC 8037). Verifiers accept nothing else. */
export const TOKEN_ALGORITHM = 'EdDSA';

/** The JOSE header `typ` of an access token (RFC 9068), so an ID or other token is not taken for one. */
export const TOKEN_TYPE = 'at+jwt';

/** How long a token is valid unless configured otherwise: 15 minutes. */
export const DEFAULT_TOKEN_TTL_S = 15 * 60;

/** Who made a request, as a verified token says. */
export interface Caller {
  /** The user id (`sub`). */
  userId: string;
  /** The scopes granted, e.g. `['user']` or `['user', 'admin']`. */
  scopes: string[];
  /** The token's id (`jti`). */
  tokenId: string;
  /** The signing key's id (`kid`). */
  keyId: string;
  /** When the token stops being accepted, in ms since the epoch. */
  expiresAt: number;
}

/** What the token endpoint answers (RFC 6749 section 5.1). */
export interface IssuedToken {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds until it expires. */
  expires_in: number;
  scope: string;
}

/** `"user admin"` -> `['user', 'admin']`; anything else than a string -> none. */
export function parseScope(scope: unknown): string[] {
  return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
}
