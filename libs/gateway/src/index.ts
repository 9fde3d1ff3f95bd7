/**
 * @stayline/gateway: the gateway's route table and the nginx configuration
 * made from it. Used by the gateway's upstream sync (in production and in the
 * native stack), the stack kit and the OpenAPI document; imports nothing of
 * stayline's.
 */
export * from './lib/routes';
export * from './lib/limits';
export * from './lib/edge';
export * from './lib/upstream';
export * from './lib/nginx-config';
