import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable, type NestMiddleware } from '@nestjs/common';
import { RequestContext } from './request-context';
import { runInCallersTrace } from './trace';

/** The header that carries a request's id from the edge through every hop. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * The id a client gave its request, passed on by the gateway beside its own
 * (which is the request's id): logged with the request, never used as its id.
 */
export const CLIENT_REQUEST_ID_HEADER = 'x-client-request-id';

// An id from outside is echoed in a response header and in logs: accept only a short, plain token.
const ACCEPTABLE_ID = /^[\w.:@-]{1,128}$/;

type RequestWithId = IncomingMessage & { id?: unknown };

/**
 * The request's id: the one already assigned to `req` (pino-http may have run
 * first), else a valid incoming X-Request-Id, else a new UUID. Sets it on the
 * response header and on `req.id`, so every middleware agrees on one id.
 */
export function ensureRequestId(req: IncomingMessage, res: ServerResponse): string {
  const request = req as RequestWithId;
  if (typeof request.id === 'string') return request.id;
  const incoming = req.headers[REQUEST_ID_HEADER];
  const id = typeof incoming === 'string' && ACCEPTABLE_ID.test(incoming) ? incoming : randomUUID();
  request.id = id;
  if (!res.headersSent) res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** The client's own id for the request (X-Client-Request-Id), when it is a short plain token. */
export function clientRequestId(req: IncomingMessage): string | undefined {
  const given = req.headers[CLIENT_REQUEST_ID_HEADER];
  return typeof given === 'string' && ACCEPTABLE_ID.test(given) ? given : undefined;
}

/**
 * Express-style middleware: assigns the request id (see {@link ensureRequestId})
 * and runs the rest of the request inside a {@link RequestContext}, and in its
 * caller's trace when the gateway did not sample it ({@link runInCallersTrace}).
 */
export function requestIdMiddleware(
  req: IncomingMessage,
  res: ServerResponse,
  next: () => void,
): void {
  const requestId = ensureRequestId(req, res);
  runInCallersTrace(req.headers, () => RequestContext.run({ requestId }, next));
}

/** {@link requestIdMiddleware} as a Nest middleware. */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  /** Assigns the request id and runs `next` inside the request's context. */
  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    requestIdMiddleware(req, res, next);
  }
}
