import { z } from 'zod';

/** Raised at start-up when the environment does not satisfy an app's schema. */
export class ConfigError extends Error {}

/**
 * Validates the environment against an app's schema and fails fast, naming
 * every variable that is missing or wrong.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
}

/** A TCP/HTTP port from an environment string. */
export const port = () => z.coerce.number().int().min(1).max(65535);

/** A comma-separated list from an environment string. */
export const csv = () =>
  z.string().transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );
