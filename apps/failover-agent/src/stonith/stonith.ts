/**
 * STONITH ("shoot the other node in the head"): a primary the agent cannot
 * reach is stopped for good before a replica is promoted, so that if it was
 * only frozen or cut off it cannot wake up and take writes beside the new one.
 * See docs/patterns/failover.md for what stands in for it under compose
 * (the Docker API) and in production (the cloud's instance-stop API, or
 * fencing at the network or storage level).
 */
import type { NodeAddress } from '@stayline/database';

/** What a STONITH attempt did. */
export interface StonithOutcome {
  /** `stopped`: it was running and is not any more; `already-down`: nothing was running. */
  result: 'stopped' | 'already-down';
  detail: string;
}

export interface Stonith {
  /** `native`, `command` or `none`, for logs and health. */
  readonly kind: string;
  /** Stops the node for good; throws if that cannot be made sure of. */
  stop(node: NodeAddress): Promise<StonithOutcome>;
}

/** No way to stop a node: the agent relies on the epoch fence, read-only start-up and semi-sync alone. */
export class NoStonith implements Stonith {
  readonly kind = 'none';

  async stop(node: NodeAddress): Promise<StonithOutcome> {
    throw new Error(`no STONITH configured: ${node.name} cannot be stopped for good`);
  }
}
