import {
  BadRequestException,
  CallHandler,
  ExecutionContext,
  ServiceUnavailableException,
} from '@nestjs/common';
import { HealthController, MetricsController } from '@stayline/observability';
import { lastValueFrom, Observable, of, Subject, throwError } from 'rxjs';
import { InFlightInterceptor, InFlightTracker } from './in-flight.interceptor';

class BookingsController {}

function contextOf(controller: unknown, type: 'http' | 'rpc' = 'http', statusCode = 200) {
  return {
    getClass: () => controller,
    getType: () => type,
    switchToHttp: () => ({ getResponse: () => ({ statusCode }) }),
  } as unknown as ExecutionContext;
}

const handler = (answer: Observable<unknown>): CallHandler => ({ handle: () => answer });

describe('InFlightInterceptor: what finished and what failed', () => {
  let tracker: InFlightTracker;
  let interceptor: InFlightInterceptor;
  const run = (context: ExecutionContext, answer: Observable<unknown>) =>
    lastValueFrom(interceptor.intercept(context, handler(answer))).catch(() => undefined);

  beforeEach(() => {
    tracker = new InFlightTracker();
    interceptor = new InFlightInterceptor(tracker);
  });

  it('counts a request as finished once it is answered, not while in flight', async () => {
    const answer = new Subject<unknown>();
    const done = run(contextOf(BookingsController), answer);
    expect(tracker).toMatchObject({ inFlight: 1, completed: 0, failed: 0 });
    answer.next({ ok: true });
    answer.complete();
    await done;
    expect(tracker).toMatchObject({ inFlight: 0, completed: 1, failed: 0 });
  });

  it('counts 5xx and non-HTTP errors as failed, a 4xx as finished only', async () => {
    await run(
      contextOf(BookingsController),
      throwError(() => new BadRequestException()),
    );
    await run(
      contextOf(BookingsController),
      throwError(() => new ServiceUnavailableException()),
    );
    await run(
      contextOf(BookingsController),
      throwError(() => new Error('boom')),
    );
    await run(
      contextOf(BookingsController, 'rpc'),
      throwError(() => new Error('refused')),
    );
    // a handler that set a 5xx itself and answered
    await run(contextOf(BookingsController, 'http', 503), of({ degraded: true }));
    expect(tracker).toMatchObject({ inFlight: 0, completed: 5, failed: 4 });
  });

  it('leaves the probes out of the counters (but not out of in flight)', async () => {
    const answer = new Subject<unknown>();
    const done = run(contextOf(HealthController, 'http', 503), answer);
    expect(tracker.inFlight).toBe(1);
    answer.error(new ServiceUnavailableException());
    await done;
    await run(contextOf(MetricsController), of('# metrics'));
    expect(tracker).toMatchObject({ inFlight: 0, completed: 0, failed: 0 });
  });

  it('counts a request the client dropped as finished, not failed', () => {
    const subscription = interceptor
      .intercept(contextOf(BookingsController), handler(new Subject<unknown>()))
      .subscribe();
    subscription.unsubscribe();
    expect(tracker).toMatchObject({ inFlight: 0, completed: 1, failed: 0 });
  });
});
