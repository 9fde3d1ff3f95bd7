import type { Event } from 'cockatiel';
import type { BreakerSnapshot, BreakerState } from './breaker-state';
import type { EndpointBreaker } from './circuit-breaker';
import type { DependencyTransition } from './dependency-telemetry';

/** Picks the endpoint of each attempt; discovery's load balancer implements it. */
export interface EndpointSelector {
  /** An endpoint id not in `exclude` (tried already, or its breaker refuses), or undefined. */
  pick(exclude: ReadonlySet<string>): string | undefined;
}

/** The per-dependency view a load balancer and the health endpoint read. */
export interface DependencyBreaker {
  /** Open when every known endpoint's breaker is open; closed when one is closed. */
  readonly state: BreakerState;
  /** Milliseconds until some endpoint admits a trial call (0 unless open). */
  retryAfterMs(): number;
  /** The breaker of one endpoint, created closed on first use. */
  endpoint(endpointId: string): EndpointBreaker;
  /** Drops an endpoint that left (its breaker, metrics and health entry). */
  forgetEndpoint(endpointId: string): void;
  /** Fires once per transition of an endpoint or of the dependency, with the reason. */
  readonly onStateChange: Event<DependencyTransition>;
}

/** The state of a dependency and of each endpoint, for health details. */
export interface DependencySnapshot {
  readonly name: string;
  readonly essential: boolean;
  readonly state: BreakerState;
  readonly retryAfterMs: number;
  readonly endpoints: Readonly<Record<string, BreakerSnapshot>>;
}
