import { RoundRobin } from '@stayline/observability';
import type { EndpointSelector } from '../lib/dependency-breaker';

/** Round robin over a fixed list of endpoint ids: the shape discovery's balancer plugs in. */
export function roundRobin(ids: readonly string[]): EndpointSelector {
  const turns = new RoundRobin();
  return { pick: (exclude) => turns.pick(ids, (id) => !exclude.has(id)) };
}
