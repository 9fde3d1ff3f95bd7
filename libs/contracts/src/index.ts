/**
 * Wire contracts: message patterns and DTOs between the services, the MariaDB
 * topology the failover agents publish, the agents' health and reports, GTID
 * positions, the bound on one TCP message, and who may do what on Redis (the ACL
 * table). Declared once here; servers,
 * callers, the launcher and the dashboard import them.
 */
export * from './lib/patterns';
export * from './lib/payment';
export * from './lib/recommendation';
export * from './lib/rpc-error';
export * from './lib/tcp-framing';
export * from './lib/gtid';
export * from './lib/topology';
export * from './lib/failover-agent';
export * from './lib/redis-acl';
export * from './lib/etcd-auth';
