/**
 * @stayline/coordination: the coordinator client. Connections to Redis behind
 * Sentinel, push-with-repair watches, leader election with fencing tokens,
 * distributed locks and feature flags, each behind an interface an etcd
 * backend can implement next. See docs/patterns/coordinator.md.
 */
export * from './lib/logger';
export * from './lib/timers';
export * from './lib/redis/redis-target';
export * from './lib/redis/subscriber-hub';
export * from './lib/redis/resynced-watch';
export * from './lib/redis/lua-script';
