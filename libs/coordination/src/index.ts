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
export * from './lib/redis/lease';
export * from './lib/coordination-backend';
export * from './lib/redis.coordination-backend';
export * from './lib/election/leader-election';
export * from './lib/election/lease-election.base';
export * from './lib/election/redis.leader-election';
export * from './lib/lock/lock';
export * from './lib/lock/redis.lock';
export * from './lib/fencing/fenced-resource';
export * from './lib/fencing/redis.fenced-resource';
export * from './lib/flags/flag-value';
export * from './lib/flags/rollout';
export * from './lib/flags/flag-store';
export * from './lib/flags/redis.flag-store';
export * from './lib/flags/feature-flags';
export * from './lib/etcd/etcd-target';
export * from './lib/etcd/etcd.coordination-backend';
export * from './lib/etcd/etcd.leader-election';
export * from './lib/etcd/etcd.lock';
export * from './lib/etcd/etcd.flag-store';
export * from './lib/etcd/etcd.fenced-resource';
export * from './lib/nest/coordination.options';
export * from './lib/nest/coordination.module';
export * from './lib/nest/coordination.lifecycle';
export * from './lib/nest/leadership';
