import { INestApplication, NotFoundException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IdentityModule, SigningKeySet, TokenIssuer, TokenVerifier } from '@stayline/identity';
import { createValidationPipe, HttpErrorFilter } from '@stayline/service-runtime';
import request from 'supertest';
import { ScrapsController } from './scraps.controller';
import { ScrapsService } from './scraps.service';

const ID = '0b7e3c1d-2f4a-4b6c-8d9e-0a1b2c3d4e5f';

describe('the scrap HTTP surface', () => {
  let app: INestApplication;
  let issuer: TokenIssuer;
  const o = { issuer: 'stayline-auth', audience: 'stayline' };
  // what `WHERE id = ? AND user_id = ?` answers: alice's scrap, to alice only
  const scraps = {
    create: jest.fn(async (userId: string, url: string) => ({ id: ID, userId, url })),
    list: jest.fn(async (userId: string) => ({ items: [{ id: ID, userId }] })),
    remove: jest.fn(async (id: string, userId: string) => {
      if (id !== ID || userId !== 'alice') throw new NotFoundException(`no scrap ${id}`);
    }),
  };

  beforeAll(async () => {
    const keys = await SigningKeySet.generate();
    issuer = new TokenIssuer(() => keys, o);
    const moduleRef = await Test.createTestingModule({
      imports: [IdentityModule.forRoot({ ...o, verifier: TokenVerifier.local(() => keys, o) })],
      controllers: [ScrapsController],
      providers: [{ provide: ScrapsService, useValue: scraps }],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useGlobalPipes(createValidationPipe());
    app.useGlobalFilters(new HttpErrorFilter());
    await app.init();
  });

  afterAll(() => app.close());
  beforeEach(() => jest.clearAllMocks());

  const as = async (user: string) => ({
    authorization: `Bearer ${(await issuer.issue(user, ['user'])).access_token}`,
  });

  it('answers every route without a token with 401 and a Bearer challenge, doing nothing', async () => {
    const server = app.getHttpServer();
    for (const res of [
      await request(server).post('/api/scraps').send({ url: 'http://example.com/' }),
      await request(server).get('/api/scraps'),
      await request(server).delete(`/api/scraps/${ID}`),
    ]) {
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="stayline"');
      expect(res.body).toMatchObject({
        error: 'unauthorized',
        details: { reason: 'missing_token' },
      });
    }
    expect(scraps.create).not.toHaveBeenCalled();
    expect(scraps.list).not.toHaveBeenCalled();
    expect(scraps.remove).not.toHaveBeenCalled();
  });

  it("saves, lists and deletes as the token's user", async () => {
    const server = app.getHttpServer();
    const created = await request(server)
      .post('/api/scraps')
      .set(await as('alice'))
      .send({ url: 'http://example.com/' });
    expect(created.status).toBe(201);
    expect(scraps.create).toHaveBeenCalledWith('alice', 'http://example.com/');
    const list = await request(server)
      .get('/api/scraps')
      .set(await as('alice'));
    expect(list.status).toBe(200);
    expect(scraps.list).toHaveBeenCalledWith('alice');
    const del = await request(server)
      .delete(`/api/scraps/${ID}`)
      .set(await as('alice'));
    expect(del.status).toBe(204);
    expect(scraps.remove).toHaveBeenCalledWith(ID, 'alice');
  });

  it("answers a delete of another user's scrap with 404, as a missing one", async () => {
    const res = await request(app.getHttpServer())
      .delete(`/api/scraps/${ID}`)
      .set(await as('bob'));
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: 'not_found' });
    expect(scraps.remove).toHaveBeenCalledWith(ID, 'bob');
  });

  it('refuses a userId in the body with 400: the user is the token’s subject', async () => {
    const res = await request(app.getHttpServer())
      .post('/api/scraps')
      .set(await as('bob'))
      .send({ userId: 'alice', url: 'http://example.com/' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      error: 'validation_failed',
      message: expect.stringMatching(/userId should not exist/),
    });
    expect(scraps.create).not.toHaveBeenCalled();
  });
});
