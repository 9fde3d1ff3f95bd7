import { loadConfig, serviceConfigSchema } from '@stayline/service-runtime';
import { z } from 'zod';

export const paymentConfigSchema = serviceConfigSchema('payment', {});
export type PaymentConfig = z.infer<typeof paymentConfigSchema>;

export const PAYMENT_CONFIG = Symbol('PAYMENT_CONFIG');

export function paymentConfig(env: NodeJS.ProcessEnv = process.env): PaymentConfig {
  return loadConfig(paymentConfigSchema, env);
}
