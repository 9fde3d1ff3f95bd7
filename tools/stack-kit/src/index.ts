/**
 * @stayline/stack-kit: real MariaDB (primary + replicas, GTID, semi-sync), Redis
 * + Sentinel, etcd, nginx and dnsmasq as plain processes on loopback, and the
 * services, failover agents and dashboard started as processes on top of them.
 * Tests of every library and app start their stack with it; the launcher's
 * commands (`npm start`, `stack:*`) and the benchmarks reuse it. It imports no
 * library code, only the wire contracts: a service is started from its entry
 * file, never imported.
 */
export * from './lib/stack';
export * from './lib/services';
export * from './lib/etcd-auth';
export * from './lib/dashboard';
export * from './lib/whole-stack';
export * from './lib/failover';
export * from './lib/add-replica';
export * from './lib/http-client';
export * from './lib/http-json';
export * from './lib/metrics';
export * from './lib/prometheus';
export * from './lib/tokens';
export * from './lib/status';
export * from './lib/state';
export * from './lib/credentials';
export * from './lib/binaries';
export * from './lib/nginx';
export * from './lib/dnsmasq';
export * from './lib/repo';
export {
  isAlive,
  isStopped,
  stopProcess,
  spawnDetached,
  type ProcessSpec,
  type FaultSignal,
} from './lib/process';
export { freePorts, isPortOpen, isPortFree } from './lib/ports';
export * from './lib/wait';
export {
  SENTINEL_MASTER_NAME,
  SENTINEL_QUORUM,
  SENTINEL_DOWN_AFTER_MS,
  SENTINEL_FAILOVER_TIMEOUT_MS,
  redisCommand,
  redisSpec,
  sentinelSpec,
  replicationInfo,
  sentinelMaster,
} from './lib/redis';
export {
  SEMI_SYNC_TIMEOUT_MS,
  REPLICA_NET_TIMEOUT_S,
  MASTER_HEARTBEAT_PERIOD_S,
  adminConnection,
  attachReplica,
  bootstrapCluster,
  mariadbSpec,
  openPrimary,
  semiSyncStatus,
  type MariaDbNode,
} from './lib/mariadb';
export { ETCD_ELECTION_TIMEOUT_MS, ETCD_HEARTBEAT_MS } from './lib/etcd';
export * from './lib/flags';
