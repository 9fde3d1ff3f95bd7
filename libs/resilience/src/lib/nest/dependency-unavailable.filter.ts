import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { throwError, type Observable } from 'rxjs';
import { ResilienceError } from '../errors';
import { toUnavailableResponse } from '../unavailable-response';

/**
 * Answers a ResilienceError that reached a controller (an essential
 * dependency failed, or its breaker is open) with a 503, `Retry-After` and a
 * clear JSON body; a microservice handler gets the same body as its error.
 */
@Catch(ResilienceError)
export class DependencyUnavailableFilter implements ExceptionFilter<ResilienceError> {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** Writes the 503 (HTTP) or returns the error payload (RPC). */
  catch(error: ResilienceError, host: ArgumentsHost): Observable<never> | void {
    const { status, headers, body } = toUnavailableResponse(error);
    if (host.getType() !== 'http')
      return throwError(() => ({ status: 'error', ...body, retryAfterMs: error.retryAfterMs }));
    const adapter = this.adapterHost.httpAdapter;
    const response = host.switchToHttp().getResponse<unknown>();
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
    adapter.reply(response, body, status);
  }
}
