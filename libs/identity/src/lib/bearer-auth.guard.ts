import {
  applyDecorators,
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  ForbiddenException,
  HttpException,
  Inject,
  Injectable,
  SetMetadata,
  ServiceUnavailableException,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { Caller } from './access-token';
import { bearerToken } from './bearer-token';
import { TokenRejectedError, TokenVerifier } from './token-verifier';

/** Injection token of the {@link TokenVerifier} the guard uses. */
export const TOKEN_VERIFIER = Symbol('TOKEN_VERIFIER');

const REQUIRED_SCOPES = 'stayline:required-scopes';
const CALLER = Symbol('stayline:caller');

type WithCaller = Request & { [CALLER]?: Caller };

/** A route (or controller) only callers holding every one of these scopes may use: 403 otherwise. */
export const RequireScope = (...scopes: string[]) => SetMetadata(REQUIRED_SCOPES, scopes);

/** The scope of operators: the admin routes (flags, fault injection, failover, keys, tokens for anyone). */
export const ADMIN_SCOPE = 'admin';

/**
 * An operator's route (or controller): a valid access token with the
 * {@link ADMIN_SCOPE} scope, checked by the {@link BearerAuthGuard}. No token or
 * a refused one is a 401, a token without the scope (a user's) a 403
 * `insufficient_scope`.
 */
export const RequireAdmin = () =>
  applyDecorators(UseGuards(BearerAuthGuard), RequireScope(ADMIN_SCOPE));

/** The {@link Caller} the guard verified, as a handler parameter. */
export const CurrentUser = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): Caller | undefined =>
    ctx.switchToHttp().getRequest<WithCaller>()[CALLER],
);

/**
 * Lets a request through only with a valid access token: `Authorization:
 * Bearer <jwt>` verified by the {@link TokenVerifier}, then the scopes
 * {@link RequireScope} names. Refusals are the services' JSON errors with a
 * `WWW-Authenticate: Bearer` challenge (RFC 6750 section 3): 401 for no or a
 * bad token, 403 for a missing scope, 503 when the keys cannot be fetched.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    @Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<WithCaller>();
    const res = http.getResponse<Response>();
    let caller: Caller;
    try {
      caller = await this.verifier.verify(bearerToken(req.headers.authorization));
    } catch (err) {
      throw refusal(err as TokenRejectedError, res);
    }
    const required =
      this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_SCOPES, [
        context.getHandler(),
        context.getClass(),
      ]) ?? [];
    const missing = required.filter((s) => !caller.scopes.includes(s));
    if (missing.length) {
      res.setHeader(
        'WWW-Authenticate',
        `Bearer realm="stayline", error="insufficient_scope", scope="${required.join(' ')}"`,
      );
      throw new ForbiddenException({
        error: 'insufficient_scope',
        message: `this route needs the scope ${missing.join(' ')}`,
      });
    }
    req[CALLER] = caller;
    return true;
  }
}

/** The HTTP answer to a refused token, with its challenge header set on `res`. */
function refusal(err: TokenRejectedError, res: Response): HttpException {
  const reason = err instanceof TokenRejectedError ? err.reason : 'malformed_token';
  const message = err instanceof TokenRejectedError ? err.message : 'the token is not valid';
  if (reason === 'keys_unavailable') {
    res.setHeader('Retry-After', '1');
    return new ServiceUnavailableException({ error: 'keys_unavailable', message });
  }
  const challenge =
    reason === 'missing_token'
      ? 'Bearer realm="stayline"'
      : reason === 'wrong_scheme'
        ? 'Bearer realm="stayline", error="invalid_request"'
        : `Bearer realm="stayline", error="invalid_token", error_description="${message}"`;
  res.setHeader('WWW-Authenticate', challenge);
  return new UnauthorizedException({ error: 'unauthorized', message, details: { reason } });
}
