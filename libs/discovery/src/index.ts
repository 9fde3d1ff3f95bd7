/**
 * @stayline/discovery: service discovery (registry with watch, static list,
 * DNS), client-side load balancing and the NestJS module that registers a
 * service. See docs/patterns/service-discovery.md and docs/patterns/load-balancing.md.
 */
export * from './lib/instance';
export * from './lib/registry';
export * from './lib/redis.registry';
