/**
 * The native stack launcher: real MariaDB (primary + replicas, GTID, semi-sync),
 * Redis + Sentinel and the nginx gateway as plain processes on loopback, for the
 * commands (`npm start`, `stack:*`), the e2e tests and the benchmarks.
 */
export * from './lib/stack';
export * from './lib/whole-stack';
export * from './lib/http-client';
export * from './lib/status';
export * from './lib/state';
export * from './lib/credentials';
export * from './lib/binaries';
export * from './lib/nginx';
export * from './lib/services';
export * from './lib/dnsmasq';
export {
  isAlive,
  isStopped,
  stopProcess,
  spawnDetached,
  type ProcessSpec,
  type FaultSignal,
} from './lib/process';
export { freePorts, isPortOpen, isPortFree, waitFor, sleep } from './lib/ports';
export {
  SENTINEL_MASTER_NAME,
  SENTINEL_QUORUM,
  SENTINEL_DOWN_AFTER_MS,
  redisCommand,
  replicationInfo,
  sentinelMaster,
} from './lib/redis';
export {
  SEMI_SYNC_TIMEOUT_MS,
  REPLICA_NET_TIMEOUT_S,
  MASTER_HEARTBEAT_PERIOD_S,
  adminConnection,
  attachReplica,
  semiSyncStatus,
} from './lib/mariadb';
