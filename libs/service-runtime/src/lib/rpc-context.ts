import {
  CallHandler,
  ExecutionContext,
  INestApplicationContext,
  Injectable,
  Logger,
  NestInterceptor,
  UnauthorizedException,
} from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { TcpContext } from '@nestjs/microservices';
import { injectTraceContext, RequestContext, startServerSpan } from '@stayline/observability';
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import { callableBy, MessageAuth, MessageSignature } from './message-auth';

/** The field a TCP message carries its caller's request context in. */
export const CALL_CONTEXT_FIELD = '__ctx';

interface CallContext {
  requestId?: string;
  consistencyToken?: string;
  /** W3C trace context of the sending attempt's span (see {@link withTraceContext}). */
  traceparent?: string;
  tracestate?: string;
  /** The calling service's signature over the message (see {@link MessageAuth}). */
  auth?: MessageSignature;
}

/**
 * Adds the running request's context (its id, and the consistency token of its
 * writes) to a message for another service, so the request id is on every log
 * line of every hop and the callee can read its caller's writes; and, given a
 * {@link MessageAuth}, the calling service's signature over pattern and payload.
 */
export function withCallContext<T>(data: T, signing?: { pattern: string; auth: MessageAuth }): T {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return data;
  const ctx = RequestContext.current();
  const carried: CallContext = {};
  if (ctx) carried.requestId = ctx.requestId;
  if (ctx?.consistencyToken) carried.consistencyToken = ctx.consistencyToken;
  if (signing) carried.auth = signing.auth.sign(signing.pattern, data);
  if (!Object.keys(carried).length) return data;
  return { ...data, [CALL_CONTEXT_FIELD]: carried };
}

/**
 * A message made by {@link withCallContext} with the running span's W3C trace
 * context added (the attempt's span: each attempt of a call has its own). Kept
 * apart from the signature, which covers pattern and payload only, so a call
 * is signed once however often it is tried. Unchanged when tracing is off.
 */
export function withTraceContext<T>(message: T): T {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return message;
  const trace = injectTraceContext();
  if (!trace['traceparent']) return message;
  const carried = (message as Record<string, unknown>)[CALL_CONTEXT_FIELD] as
    CallContext | undefined;
  return { ...message, [CALL_CONTEXT_FIELD]: { ...carried, ...trace } };
}

/**
 * The callee's side: takes the caller's context off a TCP message (before
 * validation sees the payload) and runs the handler inside it. Given a
 * {@link MessageAuth}, a message whose signature is missing, wrong, stale, by
 * a service whose public key it does not hold or by one the handler's
 * {@link CallableBy} does not name is refused with 401 `unauthenticated_call`
 * before the handler runs (the reason is logged, not answered).
 */
@Injectable()
export class RpcContextInterceptor implements NestInterceptor {
  private readonly logger = new Logger('MessageAuth');

  constructor(private readonly auth?: MessageAuth) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const rpc = context.switchToRpc();
    const data = rpc.getData() as Record<string, unknown> | null;
    const carried = (data && typeof data === 'object' ? data[CALL_CONTEXT_FIELD] : undefined) as
      CallContext | undefined;
    if (data && typeof data === 'object') delete data[CALL_CONTEXT_FIELD];
    if (this.auth) {
      const pattern = patternOf(rpc.getContext<TcpContext>());
      const verdict = this.auth.verify(
        pattern,
        data,
        carried?.auth,
        callableBy(context.getHandler()),
      );
      if ('refused' in verdict) {
        const by = typeof carried?.auth?.svc === 'string' ? ` (claims ${carried.auth.svc})` : '';
        this.logger.warn(`${pattern} refused: ${verdict.refused}${by}`);
        throw new UnauthorizedException({
          error: 'unauthenticated_call',
          message: `${pattern}: the message is not signed by a service allowed to call it (${verdict.refused})`,
        });
      }
    }
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
    const pattern = patternOf(rpc.getContext<TcpContext>());
    const carrier =
      carried && typeof carried === 'object' && !Array.isArray(carried)
        ? (carried as Record<string, unknown>)
        : undefined;
    // the handler's server span, child of the caller's attempt span: started when the
    // handler runs, ended once whatever happens (answered, failed, or dropped unanswered)
    return new Observable((subscriber) => {
      const span = startServerSpan(pattern, carrier, {
        'rpc.system': 'nestjs-tcp',
        'stayline.request_id': requestId,
      });
      const subscription = span.run(() =>
        RequestContext.run(ctx, () =>
          next.handle().subscribe({
            next: (value) => subscriber.next(value),
            error: (error: unknown) => {
              span.end(error, !isClientFault(error));
              subscriber.error(error);
            },
            complete: () => {
              span.end();
              subscriber.complete();
            },
          }),
        ),
      );
      return () => {
        span.end();
        subscription.unsubscribe();
      };
    });
  }
}

/** An error the caller caused (a 4xx): the handler's span stays OK. */
function isClientFault(error: unknown): boolean {
  const status = (error as { getStatus?: () => number } | null)?.getStatus?.();
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** The pattern a TCP message was sent with (a string pattern arrives JSON-quoted). */
function patternOf(ctx: TcpContext | undefined): string {
  const raw = ctx?.getPattern?.() ?? '';
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'string' ? parsed : raw;
  } catch {
    return raw;
  }
}

/**
 * Each service a handler's {@link CallableBy} names but `auth` holds no public
 * key for, with the handlers that name it (`Class.method`): every message to
 * them would be refused, so a service with any does not start.
 */
export function callersWithoutKeys(
  app: INestApplicationContext,
  auth: MessageAuth,
): Map<string, string[]> {
  const missing = new Map<string, string[]>();
  for (const module of app.get(ModulesContainer).values())
    for (const { metatype } of module.controllers.values()) {
      const proto = (metatype as { prototype?: Record<string, unknown> } | null)?.prototype;
      if (!proto) continue;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
        if (typeof handler !== 'function') continue;
        for (const caller of callableBy(handler) ?? [])
          if (!auth.callers.includes(caller))
            missing.set(caller, [
              ...(missing.get(caller) ?? []),
              `${(metatype as { name: string }).name}.${name}`,
            ]);
      }
    }
  return missing;
}
