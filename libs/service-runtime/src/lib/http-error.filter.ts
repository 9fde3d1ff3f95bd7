import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { RetryableWriteError, StaleTopologyError, isNodeFailure } from '@stayline/database';
import { ResilienceError } from '@stayline/resilience';
import { throwError } from 'rxjs';
import { toErrorBody } from './error-body';

/**
 * Every error leaves a stayline service as JSON `{ error, message, requestId }`:
 * over HTTP with its status, over TCP as a plain object carrying `status`, so a
 * caller can tell a client error (which must not trip its circuit breaker) from
 * a failure.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  catch(err: unknown, host: ArgumentsHost) {
    const { status, body, headers } = toErrorBody(err);
    // a dependency failed fast (open breaker, full bulkhead): a designed answer, not a bug;
    // the breaker logs its own transitions, the request log has the 503
    if (err instanceof ResilienceError) {
      this.logger.debug(`${status}: ${err.message}`);
    } else if (
      err instanceof RetryableWriteError ||
      err instanceof StaleTopologyError ||
      (status === 503 && isNodeFailure(err))
    ) {
      // the database is failing over: the router logs the switch, one line per request is enough
      this.logger.warn(`${status}: ${(err as Error).message}`);
    } else if (status >= 500 && !(err instanceof HttpException)) {
      this.logger.error(`unhandled error: ${(err as Error)?.stack ?? String(err)}`);
    }
    if (host.getType() === 'rpc') {
      return throwError(() => ({ status, ...body }));
    }
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
    res.status(status).json(body);
    return undefined;
  }
}
