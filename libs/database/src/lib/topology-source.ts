/**
 * Failover via the coordinator (docs/patterns/failover.md): the MariaDB topology
 * lives in the coordinator, the failover agent replaces it by compare-and-set
 * on its epoch (and the agent's fencing token), and every service's router
 * follows it. A delayed or replayed message can never turn a fenced node back
 * on: routers refuse epochs that are not newer than theirs.
 */
import { Topology } from './topology';

/** A topology as the coordinator holds it, with who published it and when. */
export interface PublishedTopology {
  topology: Topology;
  /** The fencing token of the agent that published it. */
  token: number;
  publishedBy: string;
  publishedAt: string;
}

/** What a successful {@link TopologySource.publish} did. */
export interface PublishOutcome {
  /** `unchanged`: exactly this topology was already in place (a retry after a lost reply). */
  result: 'published' | 'unchanged';
  /**
   * Whether a coordinator replica acknowledged it (`WAIT 1`): only then does it
   * survive a failover of the coordinator itself. Publish again until it is.
   */
  durable: boolean;
}

/** Why a publish was refused. */
export type TopologyConflictReason =
  /** The stored epoch is not the one the publisher based its change on (someone else published). */
  | 'stale-epoch'
  /** A newer leader already published: this publisher was deposed. */
  | 'stale-token';

/** The compare-and-set refused the publish: nothing was changed. */
export class TopologyConflictError extends Error {
  override readonly name = 'TopologyConflictError';
  constructor(
    readonly reason: TopologyConflictReason,
    readonly currentEpoch: number,
    readonly lastToken: number,
  ) {
    super(
      reason === 'stale-token'
        ? `topology refused: fencing token older than ${lastToken} (a newer leader published)`
        : `topology refused: the coordinator holds epoch ${currentEpoch}, not the one expected`,
    );
  }
}

/** Options of {@link TopologySource.publish}. */
export interface PublishOptions {
  /** The epoch the change is based on; the publish fails unless the coordinator still holds it (0: none yet). */
  expectedEpoch: number;
  /** The publisher's fencing token (leader election); refused if older than the last one recorded. */
  token: number;
  /** Who publishes (logged, stored). */
  publisher: string;
}

/** Receives every newer topology, in epoch order (never an older one). */
export type TopologyListener = (topology: Topology) => void;

/** Where the topology lives and how it is changed and followed. */
export interface TopologySource {
  /** The topology now, or undefined when none was published yet. */
  current(): Promise<PublishedTopology | undefined>;
  /** Replaces the topology by compare-and-set on the epoch and the fencing token. */
  publish(next: Topology, options: PublishOptions): Promise<PublishOutcome>;
  /**
   * Calls `listener` with the topology now (when there is one) and with every
   * newer one, pushed and resynced periodically. Resolves once the first read
   * is done; returns the function that stops watching.
   */
  watch(listener: TopologyListener): Promise<() => Promise<void>>;
  /** Stops every watch and closes connections. */
  close(): Promise<void>;
}
