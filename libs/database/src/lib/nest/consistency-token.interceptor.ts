import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BadRequestException,
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
} from '@nestjs/common';
import { ensureRequestId, RequestContext } from '@stayline/observability';
import { Observable, tap } from 'rxjs';
import { CONSISTENCY_TOKEN_HEADER, isValidToken, mergeToken } from '../consistency';

/**
 * Read-your-writes over HTTP: takes the client's `X-Consistency-Token` into the
 * request's {@link RequestContext} (where the router's reads and writes find
 * it) and sends the token back after the handler, so a client that echoes the
 * header reads its own writes on whichever instance nginx picks next.
 * A malformed token is a 400. Other transports carry the context themselves.
 */
@Injectable()
export class ConsistencyTokenInterceptor implements NestInterceptor {
  /** @inheritdoc */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<IncomingMessage>();
    const res = context.switchToHttp().getResponse<ServerResponse>();
    const incoming = headerValue(req.headers[CONSISTENCY_TOKEN_HEADER]);
    if (incoming !== undefined && !isValidToken(incoming)) {
      throw new BadRequestException({
        error: 'invalid_consistency_token',
        message:
          'X-Consistency-Token must be a GTID list such as 0-1-42 (domain-server-sequence: ' +
          '32-bit domain and server ids, a 64-bit sequence), as a previous response sent it',
      });
    }
    const existing = RequestContext.current();
    const ctx: RequestContext = existing ?? { requestId: ensureRequestId(req, res) };
    if (incoming) ctx.consistencyToken = mergeToken(ctx.consistencyToken, incoming);
    // also on errors: a write may have committed before the handler failed
    const sendToken = () => {
      if (ctx.consistencyToken && !res.headersSent)
        res.setHeader(CONSISTENCY_TOKEN_HEADER, ctx.consistencyToken);
    };
    const handled = () => next.handle().pipe(tap({ next: sendToken, error: sendToken }));
    if (existing) return handled();
    return new Observable((subscriber) =>
      RequestContext.run(ctx, () => handled().subscribe(subscriber)),
    );
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}
