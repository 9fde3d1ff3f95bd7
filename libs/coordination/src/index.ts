/**
 * @stayline/coordination: the coordinator client. Connections to Redis behind
 * Sentinel, push-with-repair watches, leader election with fencing tokens,
 * distributed locks and feature flags, one folder per concept with its Redis
 * and etcd implementations beside it, and the NestJS module that provides
 * them to a service. See docs/patterns/coordinator.md.
 */
export * from './lib/logger';
export * from './lib/timers';
export * from './lib/redis/redis-target';
export * from './lib/redis/subscriber-hub';
export * from './lib/redis/resynced-watch';
export * from './lib/redis/lua-script';
export * from './lib/redis/lease';
export * from './lib/etcd/etcd-target';
export * from './lib/election/leader-election';
export * from './lib/election/lease-election.base';
export * from './lib/election/redis.leader-election';
export * from './lib/election/etcd.leader-election';
export * from './lib/lock/lock';
export * from './lib/lock/redis.lock';
export * from './lib/lock/etcd.lock';
export * from './lib/fencing/fenced-resource';
export * from './lib/fencing/redis.fenced-resource';
export * from './lib/fencing/etcd.fenced-resource';
export * from './lib/flags/flag-value';
export * from './lib/flags/rollout';
export * from './lib/flags/flag-store';
export * from './lib/flags/redis.flag-store';
export * from './lib/flags/etcd.flag-store';
export * from './lib/flags/feature-flags';
export * from './lib/backend/coordination-backend';
export * from './lib/backend/redis.coordination-backend';
export * from './lib/backend/etcd.coordination-backend';
export * from './lib/backend/create-coordination-backend';
export * from './lib/nest/coordination.options';
export * from './lib/nest/coordination.module';
export * from './lib/nest/coordination.lifecycle';
export * from './lib/nest/leadership';
