import { TokenRejectedError } from './token-verifier';

/**
 * The token of an `Authorization: Bearer <token>` header (RFC 6750 section
 * 2.1). No header: `missing_token`; another scheme or a malformed value:
 * `wrong_scheme`.
 */
export function bearerToken(authorization: string | string[] | undefined): string {
  if (authorization === undefined || authorization === '')
    throw new TokenRejectedError('missing_token', 'send Authorization: Bearer <access token>');
  const m =
    typeof authorization === 'string' ? /^Bearer +([\w.~+/-]+=*)$/i.exec(authorization) : null;
  if (!m)
    throw new TokenRejectedError(
      'wrong_scheme',
      'the Authorization header must be Bearer <access token>',
    );
  return m[1];
}
