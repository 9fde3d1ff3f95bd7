/** Takes turns over whatever list it is given each time (the usable replicas change between calls). */
export class RoundRobin {
  private turn = 0;

  /** The next item in turn, or undefined for an empty list. */
  pick<T>(items: readonly T[]): T | undefined {
    if (items.length === 0) return undefined;
    this.turn = (this.turn + 1) % 1_000_000_007;
    return items[this.turn % items.length];
  }
}
