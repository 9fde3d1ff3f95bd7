import {
  CallHandler,
  ExecutionContext,
  HttpException,
  Injectable,
  NestInterceptor,
} from '@nestjs/common';
import { HealthController, MetricsController } from '@stayline/observability';
import { finalize, Observable, tap } from 'rxjs';

/**
 * Counts the requests and messages being handled (HTTP and microservice
 * alike), so a stopping instance can wait for them to finish after it has
 * deregistered: Nest's own close drops open connections at once. It also
 * counts those finished since the instance started, and the failed among them,
 * two counters that only grow: whoever reads them twice (the dashboard) turns
 * the difference into a rate.
 */
@Injectable()
export class InFlightTracker {
  private count = 0;
  private done = 0;
  private errors = 0;
  private waiters: Array<() => void> = [];

  get inFlight(): number {
    return this.count;
  }

  /** Requests and messages finished since start, the probes (health, metrics) left out. */
  get completed(): number {
    return this.done;
  }

  /** Those of `completed` that ended in a 5xx or an error that is not an HTTP 4xx. */
  get failed(): number {
    return this.errors;
  }

  enter(): void {
    this.count += 1;
  }

  leave(): void {
    this.count -= 1;
    if (this.count === 0) for (const w of this.waiters.splice(0)) w();
  }

  /** Counts one finished request or message (not the probes'). */
  finished(failed: boolean): void {
    this.done += 1;
    if (failed) this.errors += 1;
  }

  /** Resolves when nothing is in flight, or after `timeoutMs` (with false). */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/** The routes that probe an instance rather than use it: polled every second, they would be all its traffic. */
const PROBES: ReadonlySet<unknown> = new Set([HealthController, MetricsController]);

/** Whether an error ends the request as a failure: a 5xx, or anything that is not an HTTP error (a 500, a failed message). */
const isFailure = (err: unknown) => !(err instanceof HttpException) || err.getStatus() >= 500;

@Injectable()
export class InFlightInterceptor implements NestInterceptor {
  constructor(private readonly tracker: InFlightTracker) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const counted = !PROBES.has(context.getClass());
    let failed = false;
    this.tracker.enter();
    return next.handle().pipe(
      tap({ error: (err: unknown) => void (failed = isFailure(err)) }),
      // also when the client goes away mid-answer: counted, not as a failure
      finalize(() => {
        this.tracker.leave();
        if (counted) this.tracker.finished(failed || statusOf(context) >= 500);
      }),
    );
  }
}

/** The HTTP status already set on the response (a handler's own 503), 0 for a message. */
function statusOf(context: ExecutionContext): number {
  if (context.getType() !== 'http') return 0;
  const res = context.switchToHttp().getResponse<{ statusCode?: number }>();
  return typeof res?.statusCode === 'number' ? res.statusCode : 0;
}
