import { RoundRobin } from '@stayline/observability';
import { Endpoint, LoadBalancingStrategy } from './strategy';

/**
 * Round robin, the seed's strategy: each endpoint in turn. Blind to load: a
 * slow endpoint gets as many calls as a fast one.
 */
export class RoundRobinStrategy extends LoadBalancingStrategy {
  readonly name = 'round-robin';
  private readonly turns = new RoundRobin();

  pick(candidates: readonly Endpoint[]): Endpoint {
    // candidates are never empty (see LoadBalancingStrategy.pick)
    return this.turns.pick(candidates) as Endpoint;
  }
}
