import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IdentityModule, SigningKeySet, TokenIssuer, TokenVerifier } from '@stayline/identity';
import { createValidationPipe, HttpErrorFilter } from '@stayline/service-runtime';
import request from 'supertest';
import { RankingService } from './ranking.service';
import { RecommendationsController } from './recommendations.controller';

describe('the recommendation HTTP surface', () => {
  let app: INestApplication;
  let issuer: TokenIssuer;
  const o = { issuer: 'stayline-auth', audience: 'stayline' };
  const ranking = {
    overview: jest.fn(async (userId: string, limit = 10) => ({
      userId,
      profile: { cities: {}, bands: {} },
      popular: [],
      limit,
    })),
  };

  beforeAll(async () => {
    const keys = await SigningKeySet.generate();
    issuer = new TokenIssuer(() => keys, o);
    const moduleRef = await Test.createTestingModule({
      imports: [IdentityModule.forRoot({ ...o, verifier: TokenVerifier.local(() => keys, o) })],
      controllers: [RecommendationsController],
      providers: [{ provide: RankingService, useValue: ranking }],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useGlobalPipes(createValidationPipe());
    app.useGlobalFilters(new HttpErrorFilter());
    await app.init();
  });

  afterAll(() => app.close());
  beforeEach(() => jest.clearAllMocks());

  const get = async (path: string, user?: string) => {
    const req = request(app.getHttpServer()).get(path);
    if (user)
      req.set('authorization', `Bearer ${(await issuer.issue(user, ['user'])).access_token}`);
    return req;
  };

  it('answers without a token with 401 and a Bearer challenge', async () => {
    const res = await get('/api/recommendations');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="stayline"');
    expect(res.body).toMatchObject({ error: 'unauthorized', details: { reason: 'missing_token' } });
    expect(ranking.overview).not.toHaveBeenCalled();
  });

  it("shows the token's user what the model knows of them, with the limit asked", async () => {
    const res = await get('/api/recommendations?limit=3', 'bob');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userId: 'bob', limit: 3 });
    expect(ranking.overview).toHaveBeenCalledWith('bob', 3);
  });

  it('refuses a userId in the query with 400, and a limit out of bounds', async () => {
    const named = await get('/api/recommendations?userId=alice', 'bob');
    expect(named.status).toBe(400);
    expect(named.body).toMatchObject({
      error: 'validation_failed',
      message: expect.stringMatching(/userId should not exist/),
    });
    const limit = await get('/api/recommendations?limit=999', 'bob');
    expect(limit.status).toBe(400);
    expect(limit.body).toMatchObject({
      error: 'validation_failed',
      message: expect.stringMatching(/limit/),
    });
    expect(ranking.overview).not.toHaveBeenCalled();
  });
});
