import { ConsecutiveBreaker, SamplingBreaker, type IBreaker } from 'cockatiel';

/**
 * When a closed breaker opens. Both kinds are cockatiel's own breakers:
 * - `consecutive`: after `threshold` failures in a row (the seed's "3 in a row");
 * - `error-rate`: when more than `threshold` (0..1, exclusive) of the calls in the
 *   last `windowMs` failed, once at least `minimumCalls` were made in the window.
 */
export type TripPolicy =
  | { readonly kind: 'consecutive'; readonly threshold: number }
  | {
      readonly kind: 'error-rate';
      readonly threshold: number;
      readonly windowMs: number;
      readonly minimumCalls: number;
    };

/** The cockatiel breaker that implements `policy`. */
export function createTripBreaker(policy: TripPolicy): IBreaker {
  switch (policy.kind) {
    case 'consecutive':
      return new ConsecutiveBreaker(policy.threshold);
    case 'error-rate':
      return new SamplingBreaker({
        threshold: policy.threshold,
        duration: policy.windowMs,
        // cockatiel asks for a rate; minimumCalls over the window is the same floor
        minimumRps: (policy.minimumCalls * 1000) / policy.windowMs,
      });
  }
}

/** How `policy` reads in a log line: why the breaker opened. */
export function describeTrip(policy: TripPolicy): string {
  switch (policy.kind) {
    case 'consecutive':
      return `${policy.threshold} consecutive failures`;
    case 'error-rate':
      return `more than ${Math.round(policy.threshold * 100)}% of calls failed over ${policy.windowMs} ms`;
  }
}
