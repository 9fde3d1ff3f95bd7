import type { EndpointSelector } from '../lib/dependency-breaker';

/** Round robin over a fixed list of endpoint ids: the shape discovery's balancer plugs in. */
export function roundRobin(ids: readonly string[]): EndpointSelector {
  let next = 0;
  return {
    pick(exclude) {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[next++ % ids.length];
        if (!exclude.has(id)) return id;
      }
      return undefined;
    },
  };
}
