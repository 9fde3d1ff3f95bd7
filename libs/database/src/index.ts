/**
 * @stayline/database: primary/replica routing on TypeORM and MariaDB, lag-aware,
 * read-your-writes across instances, failover-aware. See docs/patterns/replication.md.
 */
export * from './lib/replica-router';
export { type Work, type WriteOptions } from './lib/primary-writer';
export { type ReadOptions } from './lib/replica-reader';
export * from './lib/router-options';
export * from './lib/topology';
export * from './lib/errors';
export * from './lib/consistency';
export * from './lib/replica-state';
export { type PrimaryState } from './lib/lag-monitor';
export { databaseHealth, registerDatabaseHealth } from './lib/database-health';
export { runMigrations, type MigrationClass } from './lib/run-migrations';
export * from './lib/collation';
export {
  DATABASE_OPTIONS,
  DatabaseModule,
  type DatabaseModuleAsyncOptions,
} from './lib/nest/database.module';
export { ConsistencyTokenInterceptor } from './lib/nest/consistency-token.interceptor';
export * from './lib/topology-source';
export * from './lib/topology-source.redis';
export { PositionHistory } from './lib/position-history';
