import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { RequestContext } from '@stayline/observability';
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';

/** The field a TCP message carries its caller's request context in. */
export const CALL_CONTEXT_FIELD = '__ctx';

interface CallContext {
  requestId?: string;
  consistencyToken?: string;
}

/**
 * Adds the running request's context (its id, and the consistency token of its
 * writes) to a message for another service, so the request id is on every log
 * line of every hop and the callee can read its caller's writes.
 */
export function withCallContext<T>(data: T): T {
  const ctx = RequestContext.current();
  if (!ctx || typeof data !== 'object' || data === null || Array.isArray(data)) return data;
  const carried: CallContext = { requestId: ctx.requestId };
  if (ctx.consistencyToken) carried.consistencyToken = ctx.consistencyToken;
  return { ...data, [CALL_CONTEXT_FIELD]: carried };
}

/**
 * The callee's side: takes the caller's context off a TCP message (before
 * validation sees the payload) and runs the handler inside it.
 */
@Injectable()
export class RpcContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const data = context.switchToRpc().getData() as Record<string, unknown> | null;
    const carried = (data && typeof data === 'object' ? data[CALL_CONTEXT_FIELD] : undefined) as
      CallContext | undefined;
    if (data && typeof data === 'object') delete data[CALL_CONTEXT_FIELD];
    const requestId =
      typeof carried?.requestId === 'string' && /^[\w.:@-]{1,128}$/.test(carried.requestId)
        ? carried.requestId
        : randomUUID();
    const ctx = {
      requestId,
      ...(typeof carried?.consistencyToken === 'string'
        ? { consistencyToken: carried.consistencyToken }
        : {}),
    };
    return new Observable((subscriber) =>
      RequestContext.run(ctx, () => next.handle().subscribe(subscriber)),
    );
  }
}
