/**
 * The auth service as it runs in the native stack: two instances sharing one
 * key file, registered in discovery, behind the real nginx gateway. Tokens are
 * short-lived here (4 s) so that a rotation can be followed to the end.
 */
import fs from 'node:fs';
import { remoteKeySet, TokenVerifier } from '@stayline/identity';
import {
  Component,
  DEV_ADMIN_TOKEN,
  Stack,
  startServices,
  startStack,
  waitFor,
} from '@stayline/stack-kit';

jest.setTimeout(180_000);

const TTL_S = 4;
/** The verifiers' clock tolerance (apps/auth app.module.ts): a token is accepted this long past exp. */
const TOLERANCE_S = 5;

interface Jwks {
  keys: Array<Record<string, string>>;
}

describe('auth service (real Redis, Sentinels and nginx; two instances, one key file)', () => {
  let stack: Stack;
  let gw: string;
  let instances: Component[];
  const direct = (c: Component) => `http://127.0.0.1:${c.ports.http}`;

  beforeAll(async () => {
    stack = await startStack({ mariadb: false, sentinel: true, nginx: true });
    gw = stack.nginx.url;
    ({ instances } = await startServices(stack, {
      services: ['auth'],
      instances: 2,
      env: { auth: { AUTH_TOKEN_TTL_S: String(TTL_S), AUTH_KEYS_RELOAD_MS: '200' } },
    }));
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const token = (base: string, username: string, password: string) =>
    fetch(`${base}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  const accessToken = async (base: string, username: string, password: string) =>
    ((await (await token(base, username, password)).json()) as { access_token: string })
      .access_token;
  /** The operator's token (scope `user admin`), logged in on an instance's own port. */
  const operator = (base: string) => accessToken(base, 'admin', 'dev-only-admin-password');
  const me = (base: string, accessToken: string) =>
    fetch(`${base}/api/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  const jwks = async (base: string) =>
    (await (await fetch(`${base}/api/auth/.well-known/jwks.json`)).json()) as Jwks;
  const kidOf = (jwt: string) =>
    (JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()) as { kid: string }).kid;

  it('keeps the signing keys in one file only its owner may read', () => {
    const file = instances[0].spec?.env?.AUTH_KEYS_FILE as string;
    expect(file).toBe(instances[1].spec?.env?.AUTH_KEYS_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('issues a token for alice through the gateway, which /me on either instance verifies', async () => {
    const res = await token(gw, 'alice', 'dev-only-alice-password');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: TTL_S, scope: 'user' });
    for (const base of [gw, ...instances.map(direct)]) {
      const who = await me(base, body.access_token as string);
      expect({ base, status: who.status }).toEqual({ base, status: 200 });
      // each answer names the instance that served it, as the services' do
      expect(who.headers.get('x-instance-id') ?? '').toMatch(
        base === gw ? /^(auth-[12])?$/ : /^auth-[12]$/,
      );
      expect(await who.json()).toMatchObject({ sub: 'alice', scope: 'user' });
    }
    const admin = await token(gw, 'admin', 'dev-only-admin-password');
    expect(await admin.json()).toMatchObject({ scope: 'user admin' });
  });

  it('answers a wrong password with 401 JSON, bad input with 400 JSON', async () => {
    const wrong = await token(gw, 'alice', 'not-her-password');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({
      error: 'invalid_credentials',
      requestId: expect.any(String),
    });
    const bad = await fetch(`${gw}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice' }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'validation_failed' });
  });

  it('issues a token for any user id to an operator (admin port, a token with the admin scope), never through the gateway', async () => {
    const base = direct(instances[0]);
    const admin = `Bearer ${await operator(base)}`;
    const issue = (base: string, body: unknown, auth?: string) =>
      fetch(`${base}/admin/tokens`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(auth === undefined ? { authorization: admin } : auth ? { authorization: auth } : {}),
        },
        body: JSON.stringify(body),
      });
    const ok = await issue(base, { sub: 'carol-42' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    const issued = (await ok.json()) as { access_token: string; scope: string };
    expect(issued.scope).toBe('user');
    // verified like any other token, by the other instance and through the gateway
    for (const b of [gw, direct(instances[1])])
      expect(await (await me(b, issued.access_token)).json()).toMatchObject({ sub: 'carol-42' });
    // a user's token: 403 insufficient_scope, with the scope it lacks in the challenge
    const alice = await accessToken(base, 'alice', 'dev-only-alice-password');
    const user = await issue(base, { sub: 'carol-42' }, `Bearer ${alice}`);
    expect(user.status).toBe(403);
    expect(user.headers.get('www-authenticate')).toBe(
      'Bearer realm="stayline", error="insufficient_scope", scope="admin"',
    );
    expect(await user.json()).toMatchObject({ error: 'insufficient_scope' });
    // a token it issued with the user scope is no operator's either
    expect((await issue(base, { sub: 'carol-42' }, `Bearer ${issued.access_token}`)).status).toBe(
      403,
    );
    // no token, and the dev admin secret the deployments still pass: 401
    const none = await issue(base, { sub: 'carol-42' }, '');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="stayline"');
    const shared = await issue(base, { sub: 'carol-42' }, `Bearer ${DEV_ADMIN_TOKEN}`);
    expect(shared.status).toBe(401);
    expect(await shared.json()).toMatchObject({ error: 'unauthorized' });
    // an operator's token issued here works on the other instance's admin routes
    const minted = (await (await issue(base, { sub: 'ops-1', scopes: ['admin'] })).json()) as {
      access_token: string;
      scope: string;
    };
    expect(minted.scope).toBe('admin');
    const keys = await fetch(`${direct(instances[1])}/admin/keys`, {
      headers: { authorization: `Bearer ${minted.access_token}` },
    });
    expect(keys.status).toBe(200);
    expect((await issue(base, { sub: 'carol-42', scopes: ['root'] })).status).toBe(400);
    expect((await issue(base, { sub: 'a b' })).status).toBe(400);
    const viaGateway = await issue(gw, { sub: 'carol-42' });
    expect(viaGateway.status).toBe(404);
  });

  it('limits failed logins per username and address: the sixth gets 429 with Retry-After', async () => {
    const one = direct(instances[0]);
    for (let i = 0; i < 5; i++) expect((await token(one, 'bob', `guess-${i}`)).status).toBe(401);
    const refused = await token(one, 'bob', 'dev-only-bob-password');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ error: 'too_many_attempts' });
  });

  it('publishes public keys only, the same set on both instances', async () => {
    const [a, b, viaGateway] = await Promise.all([...instances.map(direct), gw].map(jwks));
    expect(a).toEqual(b);
    expect(viaGateway).toEqual(a);
    expect(a.keys.length).toBeGreaterThan(0);
    for (const k of a.keys) {
      expect(Object.keys(k).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
      expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    }
  });

  it('refuses a tampered token and one with alg none: 401 JSON with a Bearer challenge', async () => {
    const { access_token } = (await (
      await token(gw, 'alice', 'dev-only-alice-password')
    ).json()) as {
      access_token: string;
    };
    const [h, p, s] = access_token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(
      JSON.stringify({ ...claims, sub: 'bob', scope: 'user admin' }),
    ).toString('base64url');
    const none = Buffer.from(
      JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: kidOf(access_token) }),
    ).toString('base64url');
    for (const bad of [`${h}.${forged}.${s}`, `${none}.${p}.`]) {
      const res = await me(gw, bad);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(
        /^Bearer realm="stayline", error="invalid_token"/,
      );
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    }
    const missing = await fetch(`${gw}/api/auth/me`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="stayline"');
  });

  it('rotates: new tokens carry the new kid, an old token stays valid until it expires, then its key is unpublished', async () => {
    const old = (
      (await (await token(gw, 'alice', 'dev-only-alice-password')).json()) as {
        access_token: string;
      }
    ).access_token;
    const oldKid = kidOf(old);
    const issuedAt = Date.now();
    const anonymous = await fetch(`${direct(instances[0])}/admin/keys/rotate`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    const rotated = await fetch(`${direct(instances[0])}/admin/keys/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await operator(direct(instances[0]))}` },
    });
    expect(rotated.status).toBe(200);
    const view = (await rotated.json()) as { signing: string; keys: Array<{ kid: string }> };
    expect(view.signing).not.toBe(oldKid);
    // the other instance follows the file
    await waitFor(
      'auth-2 to publish the new key',
      async () => (await jwks(direct(instances[1]))).keys.some((k) => k.kid === view.signing),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    for (const base of instances.map(direct)) {
      const fresh = (
        (await (await token(base, 'alice', 'dev-only-alice-password')).json()) as {
          access_token: string;
        }
      ).access_token;
      expect(kidOf(fresh)).toBe(view.signing);
      expect((await jwks(base)).keys.map((k) => k.kid)).toEqual([oldKid, view.signing]);
      // the old token, on both instances, and the new one
      expect((await me(base, old)).status).toBe(200);
      expect((await me(base, fresh)).status).toBe(200);
    }
    // a verifier elsewhere, reading the JWKS through the gateway, takes both
    const verifier = new TokenVerifier(remoteKeySet(`${gw}/api/auth/.well-known/jwks.json`), {
      issuer: 'stayline-auth',
      audience: 'stayline',
    });
    expect((await verifier.verify(old)).keyId).toBe(oldKid);
    // once the old token has expired (and the tolerance passed), it is refused and its key gone
    const after = issuedAt + (TTL_S + TOLERANCE_S + 1) * 1000 - Date.now();
    await new Promise((r) => setTimeout(r, Math.max(0, after)));
    const expired = await me(gw, old);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({
      details: { reason: expect.stringMatching(/token_expired|unknown_key/) },
    });
    for (const base of instances.map(direct))
      expect((await jwks(base)).keys.map((k) => k.kid)).toEqual([view.signing]);
  });
});
