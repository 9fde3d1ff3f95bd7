import { errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { Caller, parseScope, TOKEN_ALGORITHM, TOKEN_TYPE } from './access-token';
import type { SigningKeySet } from './signing-key-set';

/** Why a token was refused; each answers 401, except `keys_unavailable` (503). */
export type RejectionReason =
  | 'missing_token'
  | 'wrong_scheme'
  | 'malformed_token'
  | 'algorithm_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'invalid_claims'
  | 'keys_unavailable';

/** A token that is not accepted, and why. */
export class TokenRejectedError extends Error {
  constructor(
    readonly reason: RejectionReason,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRejectedError';
  }
}

export interface TokenVerifierOptions {
  /** The only `iss` accepted. */
  issuer: string;
  /** The `aud` this verifier is part of. */
  audience: string;
  /** Clock skew tolerated on `exp` and `nbf`, in seconds (default 5). */
  clockToleranceS?: number;
  /** The clock, in ms since the epoch. */
  now?: () => number;
}

/**
 * Verifies access tokens: the signature with the key its `kid` names (from a
 * key set, local or fetched), EdDSA only (so no `alg: none` and no HMAC signed
 * with a public key), `typ: at+jwt`, issuer, audience, expiry and not-before.
 * Anything refused throws a {@link TokenRejectedError} naming why.
 */
export class TokenVerifier {
  constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly o: TokenVerifierOptions,
  ) {}

  /** A verifier over the issuer's own key set (the auth service verifying its own tokens). */
  static local(keys: () => SigningKeySet, o: TokenVerifierOptions): TokenVerifier {
    const now = o.now ?? Date.now;
    return new TokenVerifier((header) => {
      const key = keys()
        .published(now())
        .find((k) => k.kid === header.kid);
      if (!key) throw new errors.JWKSNoMatchingKey();
      return key.publicKey;
    }, o);
  }

  /** The key a token names; a failure to read the key set (not an unknown key) is `keys_unavailable`. */
  private readonly resolve: JWTVerifyGetKey = async (header, token) => {
    try {
      return await this.keys(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
        throw err;
      throw new TokenRejectedError(
        'keys_unavailable',
        `the signing keys could not be read (${err instanceof Error ? err.message : String(err)})`,
      );
    }
  };

  async verify(token: string): Promise<Caller> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.resolve, {
        algorithms: [TOKEN_ALGORITHM],
        typ: TOKEN_TYPE,
        issuer: this.o.issuer,
        audience: this.o.audience,
        clockTolerance: this.o.clockToleranceS ?? 5,
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'scope'],
        currentDate: this.o.now ? new Date(this.o.now()) : undefined,
      });
      if (typeof payload.scope !== 'string' || typeof payload.jti !== 'string')
        throw new TokenRejectedError('invalid_claims', 'scope and jti must be strings');
      return {
        userId: payload.sub as string,
        scopes: parseScope(payload.scope),
        tokenId: payload.jti,
        keyId: protectedHeader.kid ?? '',
        expiresAt: (payload.exp as number) * 1000,
      };
    } catch (err) {
      throw toRejection(err);
    }
  }
}

/** jose's errors, as the reasons a caller is told. */
export function toRejection(err: unknown): TokenRejectedError {
  if (err instanceof TokenRejectedError) return err;
  if (err instanceof errors.JWTExpired)
    return new TokenRejectedError('token_expired', 'the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' || err.claim === 'iat')
      return new TokenRejectedError('token_not_yet_valid', 'the token is not valid yet');
    if (err.claim === 'iss')
      return new TokenRejectedError('wrong_issuer', 'the token was issued by someone else');
    if (err.claim === 'aud')
      return new TokenRejectedError('wrong_audience', 'the token is meant for someone else');
    return new TokenRejectedError('invalid_claims', `the token's ${err.claim} claim is not valid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return new TokenRejectedError('algorithm_not_allowed', 'the token is not signed with EdDSA');
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
    return new TokenRejectedError('unknown_key', 'the token is signed with a key not published');
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new TokenRejectedError('bad_signature', 'the token signature does not verify');
  return new TokenRejectedError('malformed_token', 'the token is not a well-formed JWT');
}
