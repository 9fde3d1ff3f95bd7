/**
 * How a stayline service starts, validates its input and configuration,
 * reports errors and stops: the parts every app shares.
 */
export * from './lib/admin-flags.controller';
export * from './lib/backends';
export * from './lib/bootstrap';
export * from './lib/caller-identity';
export * from './lib/config';
export * from './lib/dependency-client';
export * from './lib/error-body';
export * from './lib/fault-injection';
export * from './lib/http-error.filter';
export * from './lib/identifier';
export * from './lib/json-depth';
export * from './lib/message-auth';
export * from './lib/message-keys';
export * from './lib/platform';
export * from './lib/redis-auth';
export * from './lib/rpc-context';
export * from './lib/run-http-app';
export * from './lib/run-service';
export * from './lib/secrets';
export * from './lib/service-config';
export * from './lib/topology-follower';
export * from './lib/validation';
