import { Endpoint, LoadBalancingStrategy, OutstandingOf } from './strategy';

/**
 * Power of two choices: draw two distinct endpoints at random and send to the
 * one with fewer calls outstanding. Almost as good as always picking the least
 * loaded, without every caller herding onto the same "least loaded" endpoint
 * (Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing").
 */
export class PowerOfTwoStrategy extends LoadBalancingStrategy {
  readonly name = 'power-of-two';

  constructor(private readonly random: () => number = Math.random) {
    super();
  }

  pick(candidates: readonly Endpoint[], outstanding: OutstandingOf): Endpoint {
    const n = candidates.length;
    if (n === 1) return candidates[0];
    const i = Math.floor(this.random() * n);
    const j = (i + 1 + Math.floor(this.random() * (n - 1))) % n; // any index but i
    const a = candidates[i];
    const b = candidates[j];
    return outstanding(b.id) < outstanding(a.id) ? b : a;
  }
}
