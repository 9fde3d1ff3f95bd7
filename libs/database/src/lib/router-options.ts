import type { Logger } from 'pino';
import type { DataSourceOptions } from 'typeorm';
import { z } from 'zod';
import { Topology, topologySchema } from './topology';

/** Settings of a {@link ReplicaRouter}. Durations in milliseconds. */
export interface ReplicaRouterOptions {
  /** The service's database (schema), e.g. `reservation`. */
  database: string;
  user: string;
  password: string;
  /** Where the nodes are; later changes arrive through `updateTopology`. */
  topology: Topology;
  /** TypeORM entities (classes or schemas). */
  entities?: DataSourceOptions['entities'];
  /** Creates the schema from the entities on the primary at start. Tests only: services run migrations. */
  synchronize?: boolean;
  /** Connections per node. Default 10. */
  poolSize?: number;
  /** A replica further behind than this is skipped. Default 1000. */
  maxLagMs?: number;
  /** Pause between lag probes (jittered). Default 150. */
  probeIntervalMs?: number;
  /** Connect and query timeout of one probe: how fast a frozen node is noticed. Default 400. */
  probeTimeoutMs?: number;
  /** Timeout to open a pooled connection. Default 1000. */
  connectTimeoutMs?: number;
  /** Deadline of one read on one node, connection included; then the next node is tried. Default 2000. */
  readTimeoutMs?: number;
  /** How long a replica may wait for a consistency token's GTID before the read goes to the primary. Default 300. */
  gtidWaitTimeoutMs?: number;
  /** Deadline of one write or transaction; 0 for none. Default 10000. */
  writeTimeoutMs?: number;
  /** How long a node dropped from the topology may finish its running reads. Default 2000. */
  drainTimeoutMs?: number;
  /** Minimum pause between two log lines about reads falling back to the primary. Default 10000. */
  fallbackLogIntervalMs?: number;
  /** Where the router logs; default a pino logger of service `database`. */
  logger?: Logger;
}

const ms = (fallback: number) => z.number().int().nonnegative().default(fallback);

const schema = z
  .object({
    database: z.string().regex(/^\w{1,64}$/, 'a plain database name'),
    user: z.string().min(1),
    password: z.string(),
    topology: topologySchema,
    synchronize: z.boolean().default(false),
    poolSize: z.number().int().positive().default(10),
    maxLagMs: ms(1000),
    probeIntervalMs: z.number().int().positive().default(150),
    probeTimeoutMs: z.number().int().positive().default(400),
    connectTimeoutMs: z.number().int().positive().default(1000),
    readTimeoutMs: z.number().int().positive().default(2000),
    gtidWaitTimeoutMs: ms(300),
    writeTimeoutMs: ms(10_000),
    drainTimeoutMs: ms(2000),
    fallbackLogIntervalMs: ms(10_000),
  })
  .refine((o) => o.readTimeoutMs > o.gtidWaitTimeoutMs, {
    message: 'readTimeoutMs must exceed gtidWaitTimeoutMs (the wait runs inside the read)',
  });

/** Options after validation, defaults filled in. */
export type ResolvedRouterOptions = z.output<typeof schema> &
  Pick<ReplicaRouterOptions, 'entities' | 'logger'>;

/** Validates the options and fills in defaults; throws a readable error at start-up. */
export function resolveRouterOptions(options: ReplicaRouterOptions): ResolvedRouterOptions {
  const { entities, logger, ...rest } = options;
  const parsed = schema.safeParse(rest);
  if (!parsed.success)
    throw new Error(`invalid database options: ${z.prettifyError(parsed.error)}`);
  return { ...parsed.data, entities, logger };
}

/** The values a start-up log line prints (no password). */
export function describeOptions(o: ResolvedRouterOptions): Record<string, unknown> {
  const {
    password: _password,
    topology: _topology,
    entities: _entities,
    logger: _logger,
    ...shown
  } = o;
  return shown;
}
