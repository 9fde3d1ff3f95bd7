import { csv, loadConfig, serviceConfigSchema } from '@stayline/service-runtime';
import { z } from 'zod';

export const scrapConfigSchema = serviceConfigSchema('scrap', {
  /** Private ranges scrap may fetch anyway (e.g. `127.0.0.1/32` for a local demo page). Default none. */
  SCRAP_ALLOW_CIDRS: csv().default([]),
  SCRAP_MAX_BYTES: z.coerce.number().int().positive().default(1_000_000),
  SCRAP_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  SCRAP_MAX_REDIRECTS: z.coerce.number().int().min(0).max(10).default(3),
  SCRAP_CACHE_TTL_S: z.coerce.number().int().positive().default(3_600),
  /** Fetches one instance runs at once; past it a save is answered 503 with Retry-After. */
  SCRAP_MAX_FETCHES: z.coerce.number().int().positive().default(8),
  /** Fetches one user id has in progress at once; past it a save is answered 429 with Retry-After. */
  SCRAP_MAX_FETCHES_PER_USER: z.coerce.number().int().positive().default(2),
  /** DNS servers for the pages' host names (`10.0.0.2`, `127.0.0.1:5353`); default: the system's. */
  SCRAP_DNS_SERVERS: csv().default([]),
});
export type ScrapConfig = z.infer<typeof scrapConfigSchema>;

export function scrapConfig(env: NodeJS.ProcessEnv = process.env): ScrapConfig {
  return loadConfig(scrapConfigSchema, env);
}
