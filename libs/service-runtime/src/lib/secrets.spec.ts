import { createPublicKey } from 'node:crypto';
import { ConfigError, loadConfig } from './config';
import {
  devServiceSeed,
  generateServiceKeys,
  MessageAuth,
  privateKeyFromSeed,
  rawPublicKey,
  seedOf,
} from './message-auth';
import { isDevProfile } from './secrets';
import { serviceConfigSchema } from './service-config';

const base = {
  HTTP_PORT: '4101',
  TCP_PORT: '5101',
  DB_PRIMARY: 'mariadb-1@127.0.0.1:3407',
  REDIS_SENTINELS: '127.0.0.1:26479',
};
const own = generateServiceKeys('payment');
const strong = {
  DB_PASSWORD: 'a-password-of-its-own',
  SERVICE_SIGNING_KEY: own.seed,
};
/** The dev derivation's seed, or public key, of `service`, as the environment spells it. */
const devSeed = (service: string) => devServiceSeed(service).toString('base64url');
const devPublic = (service: string) =>
  rawPublicKey(createPublicKey(privateKeyFromSeed(devServiceSeed(service)))).toString('base64url');

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
    expect(c.DB_PASSWORD).toBe('dev-only-db-payment');
    expect(c.SERVICE_SIGNING_KEY.asymmetricKeyType).toBe('ed25519');
    expect(refusal(base)).toMatch(/DB_PASSWORD/);
    expect(refusal({ ...base, DB_PASSWORD: 'p' })).toMatch(/SERVICE_SIGNING_KEY: required/);
  });

  it('refuses a dev-only secret outside the dev profile, naming the variable and never the value', () => {
    for (const profile of [undefined, 'production', 'staging']) {
      const env = {
        ...base,
        ...(profile ? { STAYLINE_PROFILE: profile } : {}),
        DB_PASSWORD: 'dev-only-app',
        SERVICE_SIGNING_KEY: own.seed,
      };
      const message = refusal(env);
      expect(message).toMatch(/DB_PASSWORD: holds a public dev-only-\* value/);
      expect(message).toMatch(/STAYLINE_PROFILE=dev/);
      expect(message).not.toContain('dev-only-app');
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
    expect(refusal(env, {})).toBe('accepted');
    expect(refusal({ ...env, DB_PASSWORD: undefined }, {})).toMatch(/DB_PASSWORD/);
    // the message keys are resolved with the profile parsed: derived in dev, however the schema was built
    const c = loadConfig(serviceConfigSchema('payment', {}, {}), env);
    expect(seedOf(c.SERVICE_SIGNING_KEY)).toEqual(devServiceSeed('payment'));
    expect(refusal({ ...env, STAYLINE_PROFILE: 'production', DB_PASSWORD: 'p' }, env)).toMatch(
      /SERVICE_SIGNING_KEY: required/,
    );
  });

  it('refuses a profile name that is not one', () => {
    expect(refusal({ ...base, ...strong, STAYLINE_PROFILE: 'Prod uction' })).toMatch(
      /STAYLINE_PROFILE/,
    );
  });
});

describe('the message keys (SERVICE_SIGNING_KEY, SERVICE_PUBLIC_KEYS)', () => {
  const prod = { ...base, ...strong, STAYLINE_PROFILE: 'production' };
  const load = (env: NodeJS.ProcessEnv) => loadConfig(serviceConfigSchema('payment', {}, env), env);

  it("derives each service's own dev key pair in dev, and the dev public keys of every service", () => {
    const dev = { ...base, STAYLINE_PROFILE: 'dev' };
    const c = load(dev);
    expect(seedOf(c.SERVICE_SIGNING_KEY)).toEqual(devServiceSeed('payment'));
    expect(Object.keys(c.SERVICE_PUBLIC_KEYS).sort()).toEqual([
      'payment',
      'recommendation',
      'reservation',
      'scrap',
    ]);
    const sig = MessageAuth.dev('reservation').sign('payment.charge', {});
    expect(MessageAuth.fromConfig(c).verify('payment.charge', {}, sig)).toEqual({
      caller: 'reservation',
    });
    // keys set in dev are the ones used
    const set = load({
      ...dev,
      ...strong,
      SERVICE_PUBLIC_KEYS: generateServiceKeys('reservation').publicKey,
    });
    expect(seedOf(set.SERVICE_SIGNING_KEY).toString('base64url')).toBe(own.seed);
    expect(Object.keys(set.SERVICE_PUBLIC_KEYS)).toEqual(['reservation']);
  });

  it("takes its own key and its callers' public keys outside dev, none by default", () => {
    const reservation = generateServiceKeys('reservation');
    const scrap = generateServiceKeys('scrap');
    const rotated = generateServiceKeys('reservation');
    const c = load({
      ...prod,
      SERVICE_PUBLIC_KEYS: ` ${reservation.publicKey} , ${scrap.publicKey},${rotated.publicKey}`,
    });
    expect(seedOf(c.SERVICE_SIGNING_KEY).toString('base64url')).toBe(own.seed);
    expect(
      Object.fromEntries(
        Object.entries(c.SERVICE_PUBLIC_KEYS).map(([k, v]) => [
          k,
          v.map((key) => rawPublicKey(key).toString('base64url')),
        ]),
      ),
    ).toEqual({
      // a name given twice: both keys, while one replaces the other
      reservation: [reservation.publicKey.split('=')[1], rotated.publicKey.split('=')[1]],
      scrap: [scrap.publicKey.split('=')[1]],
    });
    expect(load(prod).SERVICE_PUBLIC_KEYS).toEqual({});
    // the key material is never in what the config prints
    expect(JSON.stringify(c)).not.toContain(own.seed);
  });

  it('derives the keys from a dev-only-* value in dev, as every dev secret is one', () => {
    const dev = { ...base, STAYLINE_PROFILE: 'dev' };
    const secret = 'dev-only-service-keys-of-this-stack';
    const reservation = loadConfig(serviceConfigSchema('reservation', {}, dev), {
      ...dev,
      SERVICE_SIGNING_KEY: secret,
    });
    expect(seedOf(reservation.SERVICE_SIGNING_KEY)).toEqual(devServiceSeed('reservation', secret));
    const payment = load({ ...dev, SERVICE_SIGNING_KEY: secret, SERVICE_PUBLIC_KEYS: secret });
    const sig = MessageAuth.fromConfig(reservation).sign('payment.charge', {});
    expect(MessageAuth.fromConfig(payment).verify('payment.charge', {}, sig)).toEqual({
      caller: 'reservation',
    });
    // the keys of the default dev secret are other keys
    expect(MessageAuth.fromConfig(load(dev)).verify('payment.charge', {}, sig)).toEqual({
      refused: 'bad_signature',
    });
  });

  it('refuses a dev-only-* value outside dev, as every dev secret, never repeating it', () => {
    const secret = 'dev-only-service-keys-of-this-stack';
    const message = refusal({ ...prod, SERVICE_SIGNING_KEY: secret, SERVICE_PUBLIC_KEYS: secret });
    expect(message).toMatch(
      /SERVICE_SIGNING_KEY: holds a public dev-only-\* value, accepted only with STAYLINE_PROFILE=dev/,
    );
    expect(message).toMatch(/SERVICE_PUBLIC_KEYS: holds a public dev-only-\* value/);
    expect(message).not.toContain(secret);
  });

  it('refuses a dev key outside dev, naming the variable and never the value', () => {
    for (const service of ['payment', 'reservation']) {
      const message = refusal({ ...prod, SERVICE_SIGNING_KEY: devSeed(service) });
      expect(message).toMatch(/SERVICE_SIGNING_KEY: is a dev key[\s\S]*STAYLINE_PROFILE=dev/);
      expect(message).not.toContain(devSeed(service));
    }
    const message = refusal({
      ...prod,
      SERVICE_PUBLIC_KEYS: `${generateServiceKeys('reservation').publicKey},reservation=${devPublic('reservation')}`,
    });
    expect(message).toMatch(/SERVICE_PUBLIC_KEYS: the key of reservation is a dev key/);
    expect(message).not.toContain(devPublic('reservation'));
  });

  it('refuses malformed keys, saying how to make one', () => {
    for (const [key, value] of [
      ['SERVICE_SIGNING_KEY', 'too-short'],
      ['SERVICE_SIGNING_KEY', `${own.seed}A`],
      ['SERVICE_PUBLIC_KEYS', 'reservation'],
      ['SERVICE_PUBLIC_KEYS', 'reservation=abc'],
      ['SERVICE_PUBLIC_KEYS', `Reservation=${own.seed}`],
    ] as const) {
      const message = refusal({ ...prod, [key]: value });
      expect({ key, value, message }).toEqual({
        key,
        value,
        message: expect.stringMatching(new RegExp(`${key}: [\\s\\S]*keys:service`)),
      });
    }
  });
});
