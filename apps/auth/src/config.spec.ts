import { authConfig } from './config';

const base = { HTTP_PORT: '4601', REDIS_SENTINELS: '127.0.0.1:26479' };

describe('authConfig', () => {
  it('has dev-only passwords in the dev profile, and a state file for keys', () => {
    const c = authConfig({ ...base, STAYLINE_PROFILE: 'dev', AUTH_KEYS_FILE: '/tmp/k.json' });
    expect(c).toMatchObject({
      AUTH_ALICE_PASSWORD: 'dev-only-alice-password',
      AUTH_BOB_PASSWORD: 'dev-only-bob-password',
      AUTH_ADMIN_PASSWORD: 'dev-only-admin-password',
      AUTH_TOKEN_TTL_S: 900,
      AUTH_ISSUER: 'stayline-auth',
      AUTH_AUDIENCE: 'stayline',
      AUTH_LOGIN_ATTEMPTS: 5,
      AUTH_LOGIN_WINDOW_S: 60,
    });
  });

  it('has no password default outside the dev profile, and refuses dev-only values there', () => {
    expect(() => authConfig({ ...base, AUTH_KEYS_FILE: '/tmp/k.json' })).toThrow(
      /AUTH_ALICE_PASSWORD[\s\S]*AUTH_BOB_PASSWORD[\s\S]*AUTH_ADMIN_PASSWORD/,
    );
    const production = {
      ...base,
      STAYLINE_PROFILE: 'production',
      AUTH_ALICE_PASSWORD: 'dev-only-alice-password',
      AUTH_BOB_PASSWORD: 'b',
      AUTH_ADMIN_PASSWORD: 'c',
      AUTH_SIGNING_SECRETS: 'dev-only-auth-signing-secret',
    };
    expect(() => authConfig(production)).toThrow(/AUTH_ALICE_PASSWORD[\s\S]*AUTH_SIGNING_SECRETS/);
    expect(
      authConfig({
        ...production,
        AUTH_ALICE_PASSWORD: 'a',
        AUTH_SIGNING_SECRETS: 'x'.repeat(32),
      }).AUTH_SIGNING_SECRETS,
    ).toEqual(['x'.repeat(32)]);
  });

  it('takes its keys from exactly one place, secrets of 16 characters or more', () => {
    const dev = { ...base, STAYLINE_PROFILE: 'dev' };
    expect(() => authConfig(dev)).toThrow(/exactly one of AUTH_KEYS_FILE/);
    expect(() =>
      authConfig({ ...dev, AUTH_KEYS_FILE: '/tmp/k', AUTH_SIGNING_SECRETS: 'x'.repeat(16) }),
    ).toThrow(/exactly one/);
    expect(() => authConfig({ ...dev, AUTH_SIGNING_SECRETS: 'short' })).toThrow(/16 characters/);
    expect(
      authConfig({
        ...dev,
        AUTH_SIGNING_SECRETS: 'dev-only-auth-signing-1, dev-only-auth-signing-2',
      }).AUTH_SIGNING_SECRETS,
    ).toEqual(['dev-only-auth-signing-1', 'dev-only-auth-signing-2']);
  });
});
