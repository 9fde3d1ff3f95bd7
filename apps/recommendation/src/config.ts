import { loadConfig, serviceConfigSchema } from '@stayline/service-runtime';
import { z } from 'zod';

export const recommendationConfigSchema = serviceConfigSchema('recommendation', {});
export type RecommendationConfig = z.infer<typeof recommendationConfigSchema>;

export function recommendationConfig(env: NodeJS.ProcessEnv = process.env): RecommendationConfig {
  return loadConfig(recommendationConfigSchema, env);
}
