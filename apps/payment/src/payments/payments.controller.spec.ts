import { INestApplication, NotFoundException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { PaymentView } from '@stayline/contracts';
import { IdentityModule, SigningKeySet, TokenIssuer, TokenVerifier } from '@stayline/identity';
import { createValidationPipe, HttpErrorFilter } from '@stayline/service-runtime';
import request from 'supertest';
import { PaymentsController } from './payments.controller';
import { PaymentsService } from './payments.service';

const ID = '6f1c2a4e-8b7d-4c3a-9e2f-1a2b3c4d5e6f';

describe('the payment HTTP surface', () => {
  let app: INestApplication;
  let issuer: TokenIssuer;
  const o = { issuer: 'stayline-auth', audience: 'stayline' };
  const alicesPayment: PaymentView = {
    id: ID,
    reservationId: 'res-1',
    userId: 'alice',
    amountCents: 24_000,
    currency: 'USD',
    status: 'CHARGED',
    createdAt: '2026-01-01T00:00:00.000Z',
    refundedAt: null,
  };
  // what the ledger's `WHERE ... AND user_id = ?` answers: alice's payment, to alice only
  const payments = {
    byId: jest.fn(async (id: string, userId: string) => {
      if (id === ID && userId === 'alice') return alicesPayment;
      throw new NotFoundException(`no payment ${id}`);
    }),
    byReservation: jest.fn(async (reservationId: string, userId?: string) =>
      reservationId === 'res-1' && userId === 'alice' ? alicesPayment : null,
    ),
    byUser: jest.fn(async (userId: string) => ({
      items: userId === 'alice' ? [alicesPayment] : [],
    })),
  };

  beforeAll(async () => {
    const keys = await SigningKeySet.generate();
    issuer = new TokenIssuer(() => keys, o);
    const moduleRef = await Test.createTestingModule({
      imports: [IdentityModule.forRoot({ ...o, verifier: TokenVerifier.local(() => keys, o) })],
      controllers: [PaymentsController],
      providers: [{ provide: PaymentsService, useValue: payments }],
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

  it('answers every route without a token with 401 and a Bearer challenge, asking nothing of the ledger', async () => {
    for (const path of [
      `/api/payments/${ID}`,
      '/api/payments?reservationId=res-1',
      '/api/payments',
    ]) {
      const res = await get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      expect(res.headers['www-authenticate']).toBe('Bearer realm="stayline"');
      expect(res.body).toMatchObject({
        error: 'unauthorized',
        details: { reason: 'missing_token' },
      });
    }
    expect(payments.byId).not.toHaveBeenCalled();
    expect(payments.byReservation).not.toHaveBeenCalled();
    expect(payments.byUser).not.toHaveBeenCalled();
  });

  it("looks payments up as the token's user", async () => {
    const byId = await get(`/api/payments/${ID}`, 'alice');
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(alicesPayment);
    expect(payments.byId).toHaveBeenCalledWith(ID, 'alice');
    const list = await get('/api/payments?reservationId=res-1', 'alice');
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ items: [alicesPayment] });
    expect(payments.byReservation).toHaveBeenCalledWith('res-1', 'alice');
    const all = await get('/api/payments', 'alice');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ items: [alicesPayment] });
    expect(payments.byUser).toHaveBeenCalledWith('alice');
  });

  it("answers another user's payment as a missing one: 404, or no items", async () => {
    const byId = await get(`/api/payments/${ID}`, 'bob');
    expect(byId.status).toBe(404);
    expect(byId.body).toMatchObject({ error: 'not_found' });
    expect(payments.byId).toHaveBeenCalledWith(ID, 'bob');
    const list = await get('/api/payments?reservationId=res-1', 'bob');
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ items: [] });
    expect((await get('/api/payments', 'bob')).body).toEqual({ items: [] });
  });

  it('refuses a userId in the query with 400: the user is the token’s subject', async () => {
    for (const path of [
      '/api/payments?reservationId=res-1&userId=alice',
      '/api/payments?userId=alice',
    ]) {
      const res = await get(path, 'bob');
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(res.body).toMatchObject({
        error: 'validation_failed',
        message: expect.stringMatching(/userId should not exist/),
      });
    }
    expect(payments.byReservation).not.toHaveBeenCalled();
    expect(payments.byUser).not.toHaveBeenCalled();
  });
});
