/**
 * Takes turns over whatever list it is given each time (the usable replicas,
 * the live endpoints: they change between calls), skipping the items `usable`
 * refuses. The one round robin of the libraries: database's replica reads,
 * discovery's strategy and resilience's tests; it lives here, in the library
 * every other one already imports, since it belongs to none of them alone.
 */
export class RoundRobin {
  private turn = 0;

  /** The next item in turn that `usable` admits (any, by default), or undefined when none does. */
  pick<T>(items: readonly T[], usable: (item: T) => boolean = () => true): T | undefined {
    for (let i = 0; i < items.length; i++) {
      const item = items[this.turn % items.length];
      this.turn = (this.turn + 1) % Number.MAX_SAFE_INTEGER;
      if (usable(item)) return item;
    }
    return undefined;
  }
}
