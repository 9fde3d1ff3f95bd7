import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { PaymentView, TCP_FRAMING } from '@stayline/contracts';
import {
  devServiceSeed,
  generateServiceKeys,
  MessageAuth,
  privateKeyFromSeed,
  withCallContext,
} from '@stayline/service-runtime';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import { Stack, startStack, startService, UserTokens, waitFor } from '@stayline/stack-kit';
import { firstValueFrom } from 'rxjs';

jest.setTimeout(120_000);

describe('payment service (real MariaDB, TCP, and HTTP with tokens from the real auth service)', () => {
  let stack: Stack;
  let client: ClientProxy;
  let http: string;
  /** The payment instance's log, where each refusal is logged with its reason. */
  let log: string;
  let tokens: UserTokens;
  const charge = { reservationId: 'res-1', userId: 'alice', amountCents: 24_000, currency: 'USD' };
  /**
   * A message signed as `as` (reservation, the one caller payment accepts) with
   * that service's key in the (dev) stack, or with the key `auth` holds.
   */
  const send = <T>(
    pattern: string,
    data: unknown,
    as = 'reservation',
    auth = MessageAuth.dev(as),
  ) => firstValueFrom(client.send<T>(pattern, withCallContext(data, { pattern, auth })));
  /** GET on the payment instance, as `user` (a token the stack's auth issued), or with no token. */
  const get = async (path: string, user?: string) =>
    fetch(`${http}${path}`, { headers: user ? await tokens.headers(user) : {} });

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, nginx: false });
    const [svc] = await Promise.all([
      startService(stack, { service: 'payment' }),
      startService(stack, { service: 'auth', tcpPort: 'none' }),
    ]);
    tokens = UserTokens.of(stack);
    http = `http://127.0.0.1:${svc.ports.http}`;
    log = svc.spec.logFile;
    client = ClientProxyFactory.create({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: svc.ports.tcp, ...TCP_FRAMING },
    });
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('charges once per reservation, however many times and however concurrently it is asked', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => send<PaymentView>('payment.charge', charge)),
    );
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results[0]).toMatchObject({ ...charge, status: 'CHARGED', refundedAt: null });
    const rows = await stack.query<{ n: number }>(
      'payment',
      'SELECT COUNT(*) AS n FROM payments WHERE reservation_id = ?',
      ['res-1'],
    );
    expect(rows[0].n).toBe(1);
  });

  it('refuses to reuse a reservation id for a different charge', async () => {
    await expect(send('payment.charge', { ...charge, amountCents: 1 })).rejects.toMatchObject({
      status: 409,
      error: 'conflict',
    });
  });

  it('refunds once and looks payments up over TCP and HTTP', async () => {
    const refunded = await send<PaymentView>('payment.refund', { reservationId: 'res-1' });
    expect(refunded.status).toBe('REFUNDED');
    const again = await send<PaymentView>('payment.refund', { reservationId: 'res-1' });
    expect(again.refundedAt).toBe(refunded.refundedAt);
    expect(await send<PaymentView>('payment.get', { reservationId: 'res-1' })).toMatchObject({
      status: 'REFUNDED',
    });
    await expect(send('payment.get', { reservationId: 'nope' })).rejects.toMatchObject({
      status: 404,
    });
    await expect(send('payment.refund', { reservationId: 'nope' })).rejects.toMatchObject({
      status: 404,
    });

    const byId = await get(`/api/payments/${refunded.id}`, 'alice');
    expect(byId.status).toBe(200);
    expect(await byId.json()).toMatchObject({ id: refunded.id, status: 'REFUNDED' });
    const list = await get('/api/payments?reservationId=res-1', 'alice');
    expect(list.status).toBe(200);
    expect(((await list.json()) as { items: unknown[] }).items).toHaveLength(1);
  });

  it("lists the token's user's payments, newest first, and no one else's", async () => {
    await send('payment.charge', { ...charge, reservationId: 'res-2', amountCents: 9_000 });
    await send('payment.charge', { ...charge, reservationId: 'res-bob', userId: 'bob' });
    // the charges went to the primary; a list read from a replica may lag a moment
    await waitFor("both of alice's payments listed", async () => {
      const res = await get('/api/payments', 'alice');
      return ((await res.json()) as { items: unknown[] }).items.length === 2;
    });
    const alice = (await (await get('/api/payments', 'alice')).json()) as { items: PaymentView[] };
    expect(alice.items.map((p) => [p.reservationId, p.userId])).toEqual([
      ['res-2', 'alice'],
      ['res-1', 'alice'],
    ]);
    await waitFor("bob's payment listed", async () => {
      const res = await get('/api/payments', 'bob');
      return ((await res.json()) as { items: unknown[] }).items.length === 1;
    });
    const bob = (await (await get('/api/payments', 'bob')).json()) as { items: PaymentView[] };
    expect(bob.items.map((p) => p.reservationId)).toEqual(['res-bob']);
    const none = await get('/api/payments', 'carol');
    expect(none.status).toBe(200);
    expect(await none.json()).toEqual({ items: [] });
  });

  it('answers HTTP without a token, or with a bad one, with 401 JSON and a Bearer challenge', async () => {
    const { id } = await send<PaymentView>('payment.get', { reservationId: 'res-1' });
    for (const path of [
      `/api/payments/${id}`,
      '/api/payments?reservationId=res-1',
      '/api/payments',
    ]) {
      const res = await get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="stayline"/);
      expect(await res.json()).toMatchObject({
        error: 'unauthorized',
        details: { reason: 'missing_token' },
      });
    }
    const forged = await fetch(`${http}/api/payments/${id}`, {
      headers: { authorization: 'Bearer not.a.token' },
    });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  });

  it("answers another user's payment exactly as a missing one: 404 by id, no items by reservation", async () => {
    const { id } = await send<PaymentView>('payment.get', { reservationId: 'res-1' });
    const missingId = '00000000-0000-4000-8000-000000000000';
    // the same answer but for the id it names, and the request id
    const shape = async (res: Response, named: string) => {
      const body = (await res.json()) as Record<string, unknown>;
      return {
        status: res.status,
        ...body,
        message: String(body.message).replace(named, ':id'),
        requestId: typeof body.requestId,
      };
    };
    const others = await shape(await get(`/api/payments/${id}`, 'bob'), id);
    expect(others).toEqual(await shape(await get(`/api/payments/${missingId}`, 'bob'), missingId));
    expect(others).toMatchObject({ status: 404, error: 'not_found' });
    const list = await get('/api/payments?reservationId=res-1', 'bob');
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ items: [] });
    // still alice's
    expect((await get(`/api/payments/${id}`, 'alice')).status).toBe(200);
  });

  it('refuses a userId in the query with 400: the user is the token’s subject', async () => {
    for (const path of [
      '/api/payments?reservationId=res-1&userId=alice',
      '/api/payments?userId=alice',
    ]) {
      const res = await get(path, 'bob');
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(await res.json()).toMatchObject({
        error: 'validation_failed',
        message: expect.stringMatching(/userId should not exist/),
      });
    }
  });

  it('answers bad input with 4xx JSON over both transports', async () => {
    await expect(
      send('payment.charge', { reservationId: 'x', userId: 'u', amountCents: 0, currency: 'usd' }),
    ).rejects.toMatchObject({
      status: 400,
      error: 'validation_failed',
    });
    expect((await get('/api/payments/not-a-uuid', 'alice')).status).toBe(400);
    expect((await get('/api/payments/00000000-0000-4000-8000-000000000000', 'alice')).status).toBe(
      404,
    );
    const blank = await get('/api/payments?reservationId=', 'alice');
    expect(blank.status).toBe(400);
    expect(await blank.json()).toMatchObject({
      error: 'validation_failed',
      message: expect.stringMatching(/reservationId/),
    });
  });

  it('handles only messages signed by reservation: unsigned, forged, replayed elsewhere or by another service are refused', async () => {
    await send('payment.charge', { ...charge, reservationId: 'res-signed' });
    const refund = { reservationId: 'res-signed' };
    const refused = { status: 401, error: 'unauthenticated_call' };
    // a process that reaches the TCP port but holds no key
    await expect(firstValueFrom(client.send('payment.refund', refund))).rejects.toMatchObject(
      refused,
    );
    // claiming to be reservation, signed with another key: one of its own, scrap's, or payment's
    // own (payment verifies with reservation's public key, and holds no private key but its own)
    for (const key of [
      generateKeyPairSync('ed25519').privateKey,
      privateKeyFromSeed(devServiceSeed('scrap')),
      privateKeyFromSeed(devServiceSeed('payment')),
    ])
      await expect(
        send('payment.refund', refund, 'reservation', MessageAuth.of('reservation', key, {})),
      ).rejects.toMatchObject(refused);
    // scrap, signing as itself: a real signature, but not a service payment takes refunds from
    await expect(send('payment.refund', refund, 'scrap')).rejects.toMatchObject(refused);
    // a service payment holds no key for
    await expect(send('payment.refund', refund, 'auditor')).rejects.toMatchObject(refused);
    // a signed payment.get sent as payment.refund: the signature covers the pattern
    const signedGet = withCallContext(refund, {
      pattern: 'payment.get',
      auth: MessageAuth.dev('reservation'),
    });
    await expect(firstValueFrom(client.send('payment.refund', signedGet))).rejects.toMatchObject(
      refused,
    );
    // a signed message whose amount was changed on the way
    const signed = withCallContext(
      { ...charge, reservationId: 'res-tampered' },
      { pattern: 'payment.charge', auth: MessageAuth.dev('reservation') },
    );
    await expect(
      firstValueFrom(client.send('payment.charge', { ...signed, amountCents: 1 })),
    ).rejects.toMatchObject(refused);
    // none of it moved money: res-signed is still charged, res-tampered never was
    expect(await send<PaymentView>('payment.get', refund)).toMatchObject({ status: 'CHARGED' });
    await expect(send('payment.get', { reservationId: 'res-tampered' })).rejects.toMatchObject({
      status: 404,
    });
    // each refused for its own reason: a signature names who really made it
    const reasons = () =>
      fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .map((l) => /(payment\.\w+ refused: \w+(?: \(claims \w+\))?)/.exec(l)?.[1])
        .filter(Boolean);
    const expected = [
      'payment.refund refused: unsigned',
      'payment.refund refused: bad_signature (claims reservation)',
      'payment.refund refused: bad_signature (claims reservation)',
      'payment.refund refused: bad_signature (claims reservation)',
      'payment.refund refused: caller_not_allowed (claims scrap)',
      'payment.refund refused: unknown_caller (claims auditor)',
      'payment.refund refused: bad_signature (claims reservation)',
      'payment.charge refused: bad_signature (claims reservation)',
    ];
    // pino writes asynchronously: the lines land once its buffer is flushed
    await waitFor('every refusal in the log', async () => reasons().length >= expected.length);
    expect(reasons()).toEqual(expected);
  });

  it('takes its keys from SERVICE_SIGNING_KEY and SERVICE_PUBLIC_KEYS: the configured reservation key, not the dev one', async () => {
    const reservation = generateServiceKeys('reservation');
    const own = generateServiceKeys('payment');
    const keyed = await startService(stack, {
      service: 'payment',
      env: { SERVICE_SIGNING_KEY: own.seed, SERVICE_PUBLIC_KEYS: reservation.publicKey },
    });
    const keyedClient = ClientProxyFactory.create({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: keyed.ports.tcp, ...TCP_FRAMING },
    });
    try {
      const get = { reservationId: 'res-signed' };
      const as = (auth: MessageAuth) =>
        firstValueFrom(
          keyedClient.send<PaymentView>(
            'payment.get',
            withCallContext(get, { pattern: 'payment.get', auth }),
          ),
        );
      const configured = MessageAuth.signer('reservation', {
        SERVICE_SIGNING_KEY: reservation.seed,
      });
      expect(await as(configured)).toMatchObject({ status: 'CHARGED' });
      // the dev key of reservation is no longer reservation's: refused
      await expect(as(MessageAuth.dev('reservation'))).rejects.toMatchObject({
        status: 401,
        error: 'unauthenticated_call',
      });
    } finally {
      await keyedClient.close();
      await stack.stopComponent(keyed.name);
    }
  });
});
