import { csv, loadConfig, serviceConfigSchema } from '@stayline/service-runtime';
import { z } from 'zod';

export const scrapConfigSchema = serviceConfigSchema('scrap', {
  /** Private ranges scrap may fetch anyway (e.g. `127.0.0.1/32` for a local demo page). Default none. */
  SCRAP_ALLOW_CIDRS: csv().default([]),
  SCRAP_MAX_BYTES: z.coerce.number().int().positive().default(1_000_000),
  SCRAP_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  SCRAP_MAX_REDIRECTS: z.coerce.number().int().min(0).max(10).default(3),
  SCRAP_CACHE_TTL_S: z.coerce.number().int().positive().default(3_600),
});
export type ScrapConfig = z.infer<typeof scrapConfigSchema>;

export function scrapConfig(env: NodeJS.ProcessEnv = process.env): ScrapConfig {
  return loadConfig(scrapConfigSchema, env);
}
