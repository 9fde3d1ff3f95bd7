import { Controller, Get, INestApplication, UseGuards } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { Caller } from './access-token';
import { BearerAuthGuard, CurrentUser, RequireAdmin, RequireScope } from './bearer-auth.guard';
import { IdentityModule } from './identity.module';
import { SigningKeySet } from './signing-key-set';
import { TokenIssuer } from './token-issuer';
import { TokenVerifier } from './token-verifier';

@Controller('things')
@UseGuards(BearerAuthGuard)
class ThingsController {
  @Get('mine')
  mine(@CurrentUser() caller: Caller) {
    return { userId: caller.userId, scopes: caller.scopes };
  }

  @Get('all')
  @RequireScope('admin')
  all() {
    return { all: true };
  }
}

/** An operator's controller: no guard of its own, only {@link RequireAdmin}. */
@Controller('admin')
@RequireAdmin()
class OperatorController {
  @Get('flags')
  flags(@CurrentUser() caller: Caller) {
    return { operator: caller.userId };
  }
}

describe('BearerAuthGuard', () => {
  let app: INestApplication;
  let keys: SigningKeySet;
  let issuer: TokenIssuer;
  const o = { issuer: 'stayline-auth', audience: 'stayline' };

  beforeAll(async () => {
    keys = await SigningKeySet.generate();
    issuer = new TokenIssuer(() => keys, o);
    const moduleRef = await Test.createTestingModule({
      imports: [IdentityModule.forRoot({ ...o, verifier: TokenVerifier.local(() => keys, o) })],
      controllers: [ThingsController, OperatorController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(() => app.close());

  const bearer = async (sub: string, scopes: string[]) =>
    `Bearer ${(await issuer.issue(sub, scopes)).access_token}`;

  it('RequireAdmin: 401 without a token, 403 insufficient_scope for a user, the operator through', async () => {
    const server = app.getHttpServer();
    const none = await request(server).get('/admin/flags');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="stayline"');
    const user = await request(server)
      .get('/admin/flags')
      .set('authorization', await bearer('alice', ['user']));
    expect(user.status).toBe(403);
    expect(user.headers['www-authenticate']).toBe(
      'Bearer realm="stayline", error="insufficient_scope", scope="admin"',
    );
    expect(user.body).toMatchObject({ error: 'insufficient_scope' });
    const operator = await request(server)
      .get('/admin/flags')
      .set('authorization', await bearer('admin', ['user', 'admin']));
    expect(operator.status).toBe(200);
    expect(operator.body).toEqual({ operator: 'admin' });
  });

  it('hands the handler the verified caller', async () => {
    const res = await request(app.getHttpServer())
      .get('/things/mine')
      .set('authorization', await bearer('alice', ['user']));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ userId: 'alice', scopes: ['user'] });
  });

  it('answers 401 JSON with a Bearer challenge: no token, another scheme, a bad token', async () => {
    const server = app.getHttpServer();
    const none = await request(server).get('/things/mine');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="stayline"');
    expect(none.body).toMatchObject({
      error: 'unauthorized',
      message: expect.any(String),
      details: { reason: 'missing_token' },
    });
    const basic = await request(server).get('/things/mine').set('authorization', 'Basic YTpi');
    expect(basic.status).toBe(401);
    expect(basic.headers['www-authenticate']).toMatch(
      /^Bearer realm="stayline", error="invalid_request"/,
    );
    expect(basic.body.details).toEqual({ reason: 'wrong_scheme' });
    const token = await bearer('alice', ['user']);
    const bad = await request(server)
      .get('/things/mine')
      .set('authorization', `${token.slice(0, -4)}AAAA`);
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(bad.body).toMatchObject({ error: 'unauthorized', details: { reason: 'bad_signature' } });
  });

  it('answers 403 insufficient_scope without the scope a route requires', async () => {
    const server = app.getHttpServer();
    const user = await request(server)
      .get('/things/all')
      .set('authorization', await bearer('alice', ['user']));
    expect(user.status).toBe(403);
    expect(user.headers['www-authenticate']).toBe(
      'Bearer realm="stayline", error="insufficient_scope", scope="admin"',
    );
    expect(user.body).toMatchObject({ error: 'insufficient_scope' });
    const admin = await request(server)
      .get('/things/all')
      .set('authorization', await bearer('admin', ['user', 'admin']));
    expect(admin.status).toBe(200);
  });
});
