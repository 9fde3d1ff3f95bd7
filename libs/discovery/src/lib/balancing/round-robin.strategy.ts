import { Endpoint, LoadBalancingStrategy } from './strategy';

/**
 * Round robin, the seed's strategy: each endpoint in turn. Blind to load: a
 * slow endpoint gets as many calls as a fast one.
 */
export class RoundRobinStrategy extends LoadBalancingStrategy {
  readonly name = 'round-robin';
  private next = 0;

  pick(candidates: readonly Endpoint[]): Endpoint {
    const chosen = candidates[this.next % candidates.length];
    this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER;
    return chosen;
  }
}
