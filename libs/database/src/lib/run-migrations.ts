import { DataSource, DataSourceOptions, MigrationInterface } from 'typeorm';
import type { ReplicaRouterOptions } from './router-options';

/** A migration class, as TypeORM takes them. */
export type MigrationClass = new () => MigrationInterface;

/**
 * Schema through TypeORM migrations, run by a service at start-up against the
 * primary (replicas get the DDL through replication). Instances start together,
 * so the run holds a MariaDB named lock: one instance migrates, the others wait
 * and then find nothing left to do. Returns the names of the migrations it ran.
 */
export async function runMigrations(
  options: Pick<ReplicaRouterOptions, 'database' | 'user' | 'password' | 'topology' | 'entities'>,
  migrations: MigrationClass[],
  lockTimeoutS = 60,
): Promise<string[]> {
  const { primary } = options.topology;
  const config: DataSourceOptions = {
    type: 'mariadb',
    host: primary.host,
    port: primary.port,
    username: options.user,
    password: options.password,
    database: options.database,
    entities: options.entities,
    migrations,
    migrationsTableName: 'migrations',
    poolSize: 2,
    logging: false,
  };
  const ds = await new DataSource(config).initialize();
  const lock = ds.createQueryRunner('master');
  const lockName = `stayline.migrations.${options.database}`;
  try {
    const [got] = await lock.query('SELECT GET_LOCK(?, ?) AS got', [lockName, lockTimeoutS]);
    if (String(got?.got) !== '1')
      throw new Error(`could not take the migration lock ${lockName} within ${lockTimeoutS} s`);
    const ran = await ds.runMigrations({ transaction: 'each' });
    return ran.map((m) => m.name);
  } finally {
    await lock.query('SELECT RELEASE_LOCK(?)', [lockName]).catch(() => undefined);
    await lock.release();
    await ds.destroy();
  }
}
