import { timingSafeEqual } from 'node:crypto';
import {
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { Request } from 'express';

/** Injection token of the admin bearer token a module provides for {@link AdminTokenGuard}. */
export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');

/**
 * Admin routes (flags, forced failover) need `Authorization: Bearer <ADMIN_TOKEN>`,
 * compared in constant time; the gateway never routes them.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  constructor(@Inject(ADMIN_TOKEN) private readonly token: string) {}

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const given = Buffer.from(header.replace(/^Bearer\s+/i, ''));
    const expected = Buffer.from(this.token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new UnauthorizedException({
        error: 'unauthorized',
        message: 'admin routes need Authorization: Bearer <ADMIN_TOKEN>',
      });
    return true;
  }
}
