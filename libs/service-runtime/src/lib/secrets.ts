import { z } from 'zod';

/**
 * The variable naming the profile a process runs with. `dev` (what `npm start`
 * and the compose file's default set) lets every secret fall back to its public
 * `dev-only-*` value; any other value, or none, needs each secret set and
 * refuses a `dev-only-*` one (docs/security.md, "Secrets and profiles").
 */
export const PROFILE_VARIABLE = 'STAYLINE_PROFILE';
export const DEV_PROFILE = 'dev';

/** What every public development secret in this repository begins with. */
export const DEV_ONLY_PREFIX = 'dev-only-';

/** Whether this environment runs the dev profile. Unset is not dev. */
export function isDevProfile(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[PROFILE_VARIABLE] === DEV_PROFILE;
}

/** `STAYLINE_PROFILE` as a setting: a lower-case name (`dev`, `production`, ...), or unset. */
export const profileSetting = () =>
  z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, 'a lower-case profile name: dev, production, ...')
    .optional();

/** A password: required, except in the dev profile, where it falls back to its public value. */
export function secretSetting(dev: boolean, devDefault: string) {
  return dev ? z.string().min(1).default(devDefault) : z.string().min(1);
}

/**
 * A refinement for a config schema that holds `STAYLINE_PROFILE`: a secret among
 * `keys` whose value is a public `dev-only-*` one is an error unless the profile
 * is dev. The error names the variable, never its value.
 */
export function refuseDevOnlySecrets(keys: readonly string[]) {
  return (config: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    if (config[PROFILE_VARIABLE] === DEV_PROFILE) return;
    for (const key of keys) {
      const value = config[key];
      if (typeof value === 'string' && value.startsWith(DEV_ONLY_PREFIX))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `holds a public ${DEV_ONLY_PREFIX}* value, accepted only with ${PROFILE_VARIABLE}=${DEV_PROFILE}: set a secret of its own`,
        });
    }
  };
}
