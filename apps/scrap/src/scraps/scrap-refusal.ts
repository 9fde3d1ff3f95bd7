import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import { RequestContext } from '@stayline/observability';
import type { Response } from 'express';

/**
 * A scrap the service will not make, answered as JSON with the project's
 * `error` code and, beside it, a `reason` a client can act on:
 *
 * - 400 `forbidden_target`: the URL itself is refused (`blocked_address`,
 *   `scheme_not_allowed`, `credentials_in_url`, `invalid_url`);
 * - 422 `unfetchable_url`: the page could not be read (`blocked_address` for a
 *   redirect into one, `dns_failed`, `timeout`, `too_large`, `bad_redirect`,
 *   `http_error`, `not_html`, `connection_failed`, `bad_response`);
 * - 429 `too_many_requests` (`user_fetch_limit`) and 503 `service_busy`
 *   (`instance_fetch_limit`), with `Retry-After`.
 */
export class ScrapRefusal extends Error {
  constructor(
    readonly status: 400 | 422 | 429 | 503,
    readonly error: string,
    readonly reason: string,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

@Catch(ScrapRefusal)
export class ScrapRefusalFilter implements ExceptionFilter {
  catch(err: ScrapRefusal, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    if (err.retryAfterS !== undefined) res.setHeader('Retry-After', String(err.retryAfterS));
    res.status(err.status).json({
      error: err.error,
      reason: err.reason,
      message: err.message,
      requestId: RequestContext.requestId(),
      ...(err.retryAfterS !== undefined ? { retryAfterSeconds: err.retryAfterS } : {}),
    });
  }
}
