/**
 * Client-side load balancing: the caller knows every instance and picks one.
 * See docs/patterns/load-balancing.md. A strategy only chooses among the
 * candidates it is given; ejection, gates and bookkeeping live in the Balancer.
 */
import { ServiceInstance } from '../instance';

/** One address of one instance, as the balancer sees it. `id` is the instance id. */
export interface Endpoint {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly instance: ServiceInstance;
}

/** What a strategy may read about an endpoint's load: calls sent and not yet answered. */
export type OutstandingOf = (endpointId: string) => number;

export abstract class LoadBalancingStrategy {
  abstract readonly name: string;
  /** Chooses one of `candidates` (never empty: the balancer asks only when there is a choice to make). */
  abstract pick(candidates: readonly Endpoint[], outstanding: OutstandingOf): Endpoint;
}

export type StrategyName = 'round-robin' | 'power-of-two';
