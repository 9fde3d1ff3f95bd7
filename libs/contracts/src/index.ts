/**
 * Message patterns and DTOs shared between the services.
 * Both the TCP server (a `@MessagePattern`) and its callers import them from here.
 */
export * from './lib/patterns';
export * from './lib/payment';
export * from './lib/recommendation';
export * from './lib/rpc-error';
