import { DynamicModule, INestApplication } from '@nestjs/common';
import { delay } from '@stayline/coordination';
import { MigrationClass, RedisTopologySource, runMigrations, Topology } from '@stayline/database';
import { Logger } from 'nestjs-pino';
import { bootstrapService } from './bootstrap';
import { MessageAuth, MessageKeyConfig } from './message-auth';
import { redisTargetOf } from './redis-auth';

/** The part of a service's validated config that starting it needs. */
export interface RunnableConfig {
  INSTANCE_ID: string;
  HOST: string;
  HTTP_PORT: number;
  TCP_PORT: number;
  DB_NAME: string;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_PRIMARY: { name: string; host: string; port: number };
  DB_REPLICAS: Array<{ name: string; host: string; port: number }>;
  /** The coordinator, where the failover agents publish the current topology. */
  REDIS_SENTINELS?: Array<{ host: string; port: number }>;
  REDIS_MASTER_NAME?: string;
  REDIS_USERNAME?: string;
  REDIS_PASSWORD?: string;
  REDIS_SENTINEL_USERNAME?: string;
  REDIS_SENTINEL_PASSWORD?: string;
}

/**
 * The topology to migrate on: the one the failover agents published, when
 * there is one (after a failover the primary named in the environment may be a
 * read-only replica, or gone); the environment's otherwise, or when the
 * coordinator cannot be read within a few seconds.
 */
export async function startupTopology(c: RunnableConfig): Promise<Topology> {
  const fromEnv: Topology = { epoch: 0, primary: c.DB_PRIMARY, replicas: c.DB_REPLICAS };
  if (!c.REDIS_SENTINELS?.length) return fromEnv;
  const source = new RedisTopologySource({
    redis: redisTargetOf({
      ...c,
      REDIS_SENTINELS: c.REDIS_SENTINELS,
      REDIS_MASTER_NAME: c.REDIS_MASTER_NAME ?? 'stayline',
    }),
  });
  try {
    const published = await Promise.race([
      source.current(),
      delay(5_000, { unref: true }).then(() => undefined),
    ]);
    return published?.topology ?? fromEnv;
  } catch {
    return fromEnv;
  } finally {
    await source.close().catch(() => undefined);
  }
}

/**
 * A service's `main`: runs its schema migrations on the current primary (one
 * instance at a time; see {@link startupTopology}), then starts the hybrid app
 * with its pino logger. Any failure ends the process with the reason, so a
 * supervisor sees it.
 */
export function runService<C extends RunnableConfig & MessageKeyConfig>(
  name: string,
  config: () => C,
  root: (config: C) => DynamicModule,
  migrations: MigrationClass[],
  configure?: (app: INestApplication) => void,
): Promise<INestApplication | void> {
  const start = async () => {
    const c = config();
    await runMigrations(
      {
        database: c.DB_NAME,
        user: c.DB_USER,
        password: c.DB_PASSWORD,
        topology: await startupTopology(c),
      },
      migrations,
    );
    return bootstrapService({
      module: root(c),
      host: c.HOST,
      httpPort: c.HTTP_PORT,
      tcpPort: c.TCP_PORT,
      instanceId: c.INSTANCE_ID,
      // each service signs its messages with its own key, and verifies its callers' public keys
      messageAuth: MessageAuth.fromConfig(c),
      logger: (app) => app.get(Logger),
      configure,
    });
  };
  return start().catch((err: Error) => {
    console.error(`${name} failed to start: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}
