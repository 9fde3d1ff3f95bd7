/**
 * Failover via the coordinator, the services' side (docs/patterns/failover.md):
 * the failover agent publishes the MariaDB topology in the coordinator; this
 * provider hands every newer one to the service's ReplicaRouter, which
 * switches its primary and replicas without a restart. An older or replayed
 * topology is refused by the router (its epoch is not newer), so a fenced old
 * primary can never come back through a late message.
 */
import {
  DynamicModule,
  Inject,
  Injectable,
  Module,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import {
  CoordinationLogger,
  RedisTarget,
  silentLogger,
  unrefTimeout,
} from '@stayline/coordination';
import {
  RedisTopologySource,
  ReplicaRouter,
  StaleTopologyError,
  Topology,
  TopologySource,
} from '@stayline/database';
import { counter, OBSERVABILITY_LOGGER } from '@stayline/observability';

/** Injection token of the {@link TopologySource} the follower watches. */
export const TOPOLOGY_SOURCE = Symbol('TOPOLOGY_SOURCE');
/** Injection token of the follower's pause before watching again (tests shorten it). */
export const TOPOLOGY_FOLLOWER_RETRY_MS = Symbol('TOPOLOGY_FOLLOWER_RETRY_MS');

/** Options of {@link TopologyFollowerModule.forRoot}. */
export interface TopologyFollowerOptions {
  /** The coordinator's Redis (through Sentinel). */
  redis: RedisTarget;
  /** Where the topology lives. Default `stayline:topology:mariadb`. */
  key?: string;
  /** Full reread period (repairs lost pushes). Default 2000 ms. */
  resyncMs?: number;
  /** Pause before watching again when the coordinator could not be read at start. Default 1000 ms. */
  retryMs?: number;
}

const switches = counter(
  'stayline_topology_updates_total',
  'Published MariaDB topologies handed to the router, by outcome',
  ['outcome'],
);

/**
 * Makes the service's {@link ReplicaRouter} follow the published topology.
 * Starting it waits for the first read, so a service that starts after a
 * failover serves from the current primary from its first request.
 */
@Injectable()
export class TopologyFollower implements OnModuleInit, OnApplicationShutdown {
  private stopWatch?: () => Promise<void>;
  private retry?: NodeJS.Timeout;
  private stopped = false;
  private applied = 0;
  private readonly logger: CoordinationLogger;

  constructor(
    private readonly router: ReplicaRouter,
    @Inject(TOPOLOGY_SOURCE) private readonly source: TopologySource,
    @Optional() @Inject(OBSERVABILITY_LOGGER) logger?: CoordinationLogger,
    @Optional() @Inject(TOPOLOGY_FOLLOWER_RETRY_MS) private readonly retryMs = 1_000,
  ) {
    this.logger = logger ?? silentLogger;
  }

  /** The newest epoch handed to the router (0 before the first). */
  get epoch(): number {
    return this.applied;
  }

  /** @inheritdoc */
  async onModuleInit(): Promise<void> {
    await this.start();
  }

  /** @inheritdoc */
  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.stopWatch?.().catch(() => undefined);
    await this.source.close();
  }

  private async start(): Promise<void> {
    if (this.stopped) return;
    try {
      let first: Promise<void> | undefined;
      this.stopWatch = await this.source.watch((t) => {
        const applying = this.apply(t);
        first ??= applying;
      });
      await first; // the router has the current topology before the app takes traffic
    } catch (err) {
      // the router keeps its topology meanwhile; the coordinator may be failing over
      this.logger.warn(
        { err: (err as Error).message, retryMs: this.retryMs },
        'cannot read the published topology yet; retrying',
      );
      this.retry = unrefTimeout(() => void this.start(), this.retryMs);
    }
  }

  private async apply(topology: Topology): Promise<void> {
    try {
      await this.router.updateTopology(topology);
      this.applied = Math.max(this.applied, topology.epoch);
      switches.inc({ outcome: 'applied' });
    } catch (err) {
      if (err instanceof StaleTopologyError) {
        switches.inc({ outcome: 'stale' });
        return;
      }
      switches.inc({ outcome: 'failed' });
      this.logger.error(
        { epoch: topology.epoch, err: (err as Error).message },
        'could not apply the published topology',
      );
    }
  }
}

/**
 * The follower for a service whose app module provides the {@link ReplicaRouter}
 * (DatabaseModule). Part of `platformImports`.
 */
@Module({})
export class TopologyFollowerModule {
  static forRoot(o: TopologyFollowerOptions): DynamicModule {
    return {
      module: TopologyFollowerModule,
      providers: [
        {
          provide: TOPOLOGY_SOURCE,
          inject: [{ token: OBSERVABILITY_LOGGER, optional: true }],
          useFactory: (logger?: CoordinationLogger) =>
            new RedisTopologySource({
              redis: o.redis,
              key: o.key,
              resyncMs: o.resyncMs,
              logger,
            }),
        },
        { provide: TOPOLOGY_FOLLOWER_RETRY_MS, useValue: o.retryMs ?? 1_000 },
        TopologyFollower,
      ],
      exports: [TopologyFollower],
    };
  }
}
