/**
 * @stayline/discovery: service discovery (registry with watch, static list,
 * DNS), client-side load balancing and the NestJS module that registers a
 * service. See docs/patterns/service-discovery.md and docs/patterns/load-balancing.md.
 */
export * from './lib/instance';
export * from './lib/registry';
export * from './lib/redis.registry';
export * from './lib/etcd.registry';
export * from './lib/static.registry';
export * from './lib/dns.registry';
export * from './lib/balancing/strategy';
export * from './lib/balancing/round-robin.strategy';
export * from './lib/balancing/power-of-two.strategy';
export * from './lib/balancing/endpoint-gate';
export * from './lib/balancing/balancer';
export * from './lib/clients/errors';
export * from './lib/clients/balanced-client';
export * from './lib/clients/balanced-tcp.client';
export * from './lib/clients/balanced-http.client';
export * from './lib/nest/discovery.options';
export * from './lib/nest/discovery.module';
export * from './lib/nest/discovery.lifecycle';
export * from './lib/nest/in-flight.interceptor';
