import { timingSafeEqual } from 'node:crypto';
import {
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { ADMIN_TOKEN_MIN_BYTES } from './secrets';

/** Injection token of the admin bearer token a module provides for {@link AdminTokenGuard}. */
export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');

/**
 * `Bearer <token>`: the scheme in any case, one space, one word. Anything else
 * (no scheme, another scheme, a second word, extra spaces) is no credential.
 */
const BEARER = /^bearer ([\x21-\x7e]+)$/i;

/** The token of an `Authorization` header value, or undefined when it is not exactly `Bearer <token>`. */
export function bearerToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : BEARER.exec(header)?.[1];
}

/**
 * Admin routes (flags, forced failover) need `Authorization: Bearer <ADMIN_TOKEN>`,
 * compared in constant time; anything else is a 401 JSON error. The gateway
 * never routes them. A token shorter than 32 bytes is refused when the guard is
 * made, so a module cannot start with one (the config schemas refuse it first).
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(@Inject(ADMIN_TOKEN) token: string) {
    this.expected = Buffer.from(token, 'utf8');
    if (this.expected.length < ADMIN_TOKEN_MIN_BYTES)
      throw new Error(`ADMIN_TOKEN must be at least ${ADMIN_TOKEN_MIN_BYTES} bytes`);
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const token = bearerToken(http.getRequest<Request>().headers.authorization);
    const given = Buffer.from(token ?? '', 'utf8');
    const same = given.length === this.expected.length && timingSafeEqual(given, this.expected);
    if (token === undefined || !same) {
      http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer realm="stayline-admin"');
      throw new UnauthorizedException({
        error: 'unauthorized',
        message: 'admin routes need Authorization: Bearer <ADMIN_TOKEN>',
      });
    }
    return true;
  }
}
