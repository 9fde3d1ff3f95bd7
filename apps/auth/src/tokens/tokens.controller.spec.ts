import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  IdentityModule,
  PasswordHasher,
  SigningKeySet,
  TokenIssuer,
  TokenVerifier,
} from '@stayline/identity';
import { createValidationPipe, HttpErrorFilter } from '@stayline/service-runtime';
import express from 'express';
import request from 'supertest';
import { KeysAdminController } from '../admin/keys-admin.controller';
import { AUTH_SETTINGS } from '../auth.settings';
import { ConfiguredKeyStore, KEY_STORE } from '../keys/key-store';
import { UserDirectory } from '../users/user-directory';
import { LoginThrottle } from './login-throttle';
import { LoginUseCase } from './login.use-case';
import { TokensController } from './tokens.controller';

/** A secret such as ADMIN_TOKEN: it opens no admin route. */
const SHARED_SECRET = 'test-admin-token-of-at-least-32-bytes';

describe('the auth HTTP surface', () => {
  let app: INestApplication;
  let keys: SigningKeySet;
  const o = { issuer: 'stayline-auth', audience: 'stayline' };

  beforeAll(async () => {
    const store = await ConfiguredKeyStore.open(['dev-only-auth-signing-secret']);
    keys = store.current();
    const users = await UserDirectory.create(
      [
        { id: 'alice', scopes: ['user'], password: 'alice-pw' },
        { id: 'admin', scopes: ['user', 'admin'], password: 'admin-pw' },
      ],
      new PasswordHasher({ N: 1024, r: 8, p: 1 }),
    );
    const moduleRef = await Test.createTestingModule({
      imports: [IdentityModule.forRoot({ ...o, verifier: TokenVerifier.local(() => keys, o) })],
      controllers: [TokensController, KeysAdminController],
      providers: [
        { provide: KEY_STORE, useValue: store },
        { provide: TokenIssuer, useValue: new TokenIssuer(() => keys, o) },
        { provide: UserDirectory, useValue: users },
        { provide: LoginThrottle, useValue: new LoginThrottle({ attempts: 5, windowMs: 60_000 }) },
        LoginUseCase,
        { provide: AUTH_SETTINGS, useValue: { trustedProxyHops: 1 } },
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false, bodyParser: false });
    app.use(express.json());
    app.useGlobalPipes(createValidationPipe());
    app.useGlobalFilters(new HttpErrorFilter());
    await app.init();
  });

  afterAll(() => app.close());

  const token = (body: unknown, from = '203.0.113.9') =>
    request(app.getHttpServer())
      .post('/api/auth/token')
      .set('x-forwarded-for', `198.51.100.1, ${from}`)
      .send(body as object);

  it('issues a Bearer token for alice, and /me verifies it', async () => {
    const res = await token({ username: 'alice', password: 'alice-pw' });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'user',
    });
    const me = await request(app.getHttpServer())
      .get('/api/auth/me')
      .set('authorization', `Bearer ${res.body.access_token}`);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ sub: 'alice', scope: 'user', kid: keys.current().kid });
  });

  it('answers a wrong password and an unknown user alike: 401 invalid_credentials', async () => {
    for (const body of [
      { username: 'alice', password: 'nope' },
      { username: 'nobody', password: 'alice-pw' },
    ]) {
      const res = await token(body, '203.0.113.10');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: 'invalid_credentials',
        message: 'wrong username or password',
      });
    }
  });

  it('answers bad input with 400 validation_failed', async () => {
    for (const body of [
      {},
      { username: 'alice' },
      { username: 'a b', password: 'x' },
      { username: 'alice', password: 'x', extra: 1 },
    ]) {
      const res = await token(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'validation_failed' });
    }
  });

  it('refuses a sixth failed login for one username from one address with 429 and Retry-After', async () => {
    for (let i = 0; i < 5; i++)
      expect((await token({ username: 'admin', password: 'guess' }, '203.0.113.66')).status).toBe(
        401,
      );
    const res = await token({ username: 'admin', password: 'admin-pw' }, '203.0.113.66');
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(50);
    expect(res.body).toMatchObject({ error: 'too_many_attempts' });
    // the same user from another address, and the address for another user, still may
    expect((await token({ username: 'admin', password: 'admin-pw' }, '203.0.113.67')).status).toBe(
      200,
    );
    expect((await token({ username: 'alice', password: 'alice-pw' }, '203.0.113.66')).status).toBe(
      200,
    );
  });

  it('publishes public keys only', async () => {
    const res = await request(app.getHttpServer()).get('/api/auth/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body.keys.map((k: { kid: string }) => k.kid)).toEqual([keys.current().kid]);
    for (const k of res.body.keys)
      expect(Object.keys(k).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
  });

  it('refuses /me without a token, or with a tampered one: 401 JSON and a Bearer challenge', async () => {
    const none = await request(app.getHttpServer()).get('/api/auth/me');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.body).toMatchObject({ error: 'unauthorized', message: expect.any(String) });
    const issued = await token({ username: 'alice', password: 'alice-pw' }, '203.0.113.20');
    const [h, p, sig] = (issued.body.access_token as string).split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'user admin' })).toString(
      'base64url',
    );
    const tampered = await request(app.getHttpServer())
      .get('/api/auth/me')
      .set('authorization', `Bearer ${h}.${forged}.${sig}`);
    expect(tampered.status).toBe(401);
    expect(tampered.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(tampered.body).toMatchObject({
      error: 'unauthorized',
      details: { reason: 'bad_signature' },
    });
  });

  it('keeps rotation to a token with the admin scope, and refuses it for keys given by configuration', async () => {
    const rotate = (authorization?: string) => {
      const r = request(app.getHttpServer()).post('/admin/keys/rotate');
      return authorization ? r.set('authorization', authorization) : r;
    };
    const anonymous = await rotate();
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="stayline"');
    const shared = await rotate(`Bearer ${SHARED_SECRET}`);
    expect(shared.status).toBe(401);
    expect(shared.body).toMatchObject({ error: 'unauthorized' });
    const alice = await token({ username: 'alice', password: 'alice-pw' }, '203.0.113.30');
    const user = await rotate(`Bearer ${alice.body.access_token}`);
    expect(user.status).toBe(403);
    expect(user.headers['www-authenticate']).toBe(
      'Bearer realm="stayline", error="insufficient_scope", scope="admin"',
    );
    expect(user.body).toMatchObject({ error: 'insufficient_scope' });
    const admin = await token({ username: 'admin', password: 'admin-pw' }, '203.0.113.31');
    expect(admin.body.scope).toBe('user admin');
    const operator = `Bearer ${admin.body.access_token}`;
    const res = await rotate(operator);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'keys_from_configuration' });
    const list = await request(app.getHttpServer())
      .get('/admin/keys')
      .set('authorization', operator);
    expect(list.body).toMatchObject({
      source: 'AUTH_SIGNING_SECRETS',
      signing: keys.current().kid,
    });
  });
});
