import { DEV_ADMIN_TOKEN as STACK_DEV_ADMIN_TOKEN } from '@stayline/stack-kit';
import { ConfigError, loadConfig } from './config';
import { ADMIN_TOKEN_MIN_BYTES, DEV_ADMIN_TOKEN, isDevProfile } from './secrets';
import { serviceConfigSchema } from './service-config';

const base = {
  HTTP_PORT: '4101',
  TCP_PORT: '5101',
  DB_PRIMARY: 'mariadb-1@127.0.0.1:3407',
  REDIS_SENTINELS: '127.0.0.1:26479',
};
const strong = {
  DB_PASSWORD: 'a-password-of-its-own',
  ADMIN_TOKEN: '0123456789abcdef0123456789abcdef',
};

/** The message loadConfig throws, or 'accepted'. */
function refusal(env: NodeJS.ProcessEnv, schemaEnv: NodeJS.ProcessEnv = env): string {
  try {
    loadConfig(serviceConfigSchema('payment', {}, schemaEnv), env);
    return 'accepted';
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
}

describe('the profile (STAYLINE_PROFILE)', () => {
  it('is dev only when it says dev: unset is not dev', () => {
    expect(isDevProfile({ STAYLINE_PROFILE: 'dev' })).toBe(true);
    expect(isDevProfile({})).toBe(false);
    expect(isDevProfile({ STAYLINE_PROFILE: 'production' })).toBe(false);
    expect(isDevProfile({ STAYLINE_PROFILE: 'DEV' })).toBe(false);
  });

  it('gives every secret its public default in dev, and none outside it', () => {
    const dev = { ...base, STAYLINE_PROFILE: 'dev' };
    const c = loadConfig(serviceConfigSchema('payment', {}, dev), dev);
    expect([c.DB_PASSWORD, c.ADMIN_TOKEN]).toEqual(['dev-only-db-payment', DEV_ADMIN_TOKEN]);
    expect(refusal(base)).toMatch(/DB_PASSWORD[\s\S]*ADMIN_TOKEN/);
  });

  it('refuses a dev-only secret outside the dev profile, naming the variable and never the value', () => {
    for (const profile of [undefined, 'production', 'staging']) {
      const env = {
        ...base,
        ...(profile ? { STAYLINE_PROFILE: profile } : {}),
        DB_PASSWORD: 'dev-only-app',
        ADMIN_TOKEN: DEV_ADMIN_TOKEN,
      };
      const message = refusal(env);
      expect(message).toMatch(/DB_PASSWORD: holds a public dev-only-\* value/);
      expect(message).toMatch(/ADMIN_TOKEN: holds a public dev-only-\* value/);
      expect(message).toMatch(/STAYLINE_PROFILE=dev/);
      expect(message).not.toContain('dev-only-app');
      expect(message).not.toContain(DEV_ADMIN_TOKEN);
      // one dev-only secret among real ones is enough
      expect(refusal({ ...env, ...strong, DB_PASSWORD: 'dev-only-anything' })).toMatch(
        /DB_PASSWORD/,
      );
      expect(refusal({ ...env, ...strong })).toBe('accepted');
    }
  });

  it('takes the profile the process runs with, even from a schema built without it', () => {
    // the compose and Kubernetes specs build schemas with no defaults and parse a dev environment
    const env = { ...base, STAYLINE_PROFILE: 'dev', DB_PASSWORD: 'dev-only-app' };
    expect(refusal({ ...env, ADMIN_TOKEN: DEV_ADMIN_TOKEN }, {})).toBe('accepted');
    expect(refusal(env, {})).toMatch(/ADMIN_TOKEN/);
  });

  it('refuses a profile name that is not one', () => {
    expect(refusal({ ...base, ...strong, STAYLINE_PROFILE: 'Prod uction' })).toMatch(
      /STAYLINE_PROFILE/,
    );
  });
});

describe('the admin token (ADMIN_TOKEN)', () => {
  it('is at least 32 bytes in every profile, and the error does not repeat it', () => {
    expect(ADMIN_TOKEN_MIN_BYTES).toBe(32);
    for (const profile of ['dev', 'production']) {
      const env = { ...base, ...strong, STAYLINE_PROFILE: profile };
      const short = 'S'.repeat(31);
      const message = refusal({ ...env, ADMIN_TOKEN: short });
      expect(message).toMatch(/ADMIN_TOKEN: must be at least 32 bytes/);
      expect(message).not.toContain(short);
      expect(refusal({ ...env, ADMIN_TOKEN: 'S'.repeat(32) })).toBe('accepted');
    }
  });

  it('is one word of visible ASCII', () => {
    const env = { ...base, ...strong };
    expect(refusal({ ...env, ADMIN_TOKEN: `${'x'.repeat(20)} ${'y'.repeat(20)}` })).toMatch(
      /ADMIN_TOKEN: must be visible ASCII/,
    );
    expect(refusal({ ...env, ADMIN_TOKEN: 'é'.repeat(20) })).toMatch(/ADMIN_TOKEN/);
  });

  it('defaults in dev to a public secret long enough, the one the test and demo tools sign messages with', () => {
    expect(Buffer.byteLength(DEV_ADMIN_TOKEN)).toBeGreaterThanOrEqual(ADMIN_TOKEN_MIN_BYTES);
    expect(DEV_ADMIN_TOKEN.startsWith('dev-only-')).toBe(true);
    expect(STACK_DEV_ADMIN_TOKEN).toBe(DEV_ADMIN_TOKEN);
  });
});
