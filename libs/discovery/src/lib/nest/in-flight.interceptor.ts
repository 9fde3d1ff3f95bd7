import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, finalize } from 'rxjs';

/**
 * Counts the requests and messages being handled (HTTP and microservice
 * alike), so a stopping instance can wait for them to finish after it has
 * deregistered: Nest's own close drops open connections at once.
 */
@Injectable()
export class InFlightTracker {
  private count = 0;
  private waiters: Array<() => void> = [];

  get inFlight(): number {
    return this.count;
  }

  enter(): void {
    this.count += 1;
  }

  leave(): void {
    this.count -= 1;
    if (this.count === 0) for (const w of this.waiters.splice(0)) w();
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

@Injectable()
export class InFlightInterceptor implements NestInterceptor {
  constructor(private readonly tracker: InFlightTracker) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    this.tracker.enter();
    return next.handle().pipe(finalize(() => this.tracker.leave()));
  }
}
