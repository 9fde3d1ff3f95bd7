import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { PaymentView, TCP_FRAMING } from '@stayline/contracts';
import { Stack, startStack, startService } from '@stayline/stack-kit';
import mysql from 'mysql2/promise';
import { firstValueFrom } from 'rxjs';

jest.setTimeout(120_000);

describe('payment service (real MariaDB, TCP and HTTP)', () => {
  let stack: Stack;
  let client: ClientProxy;
  let http: string;
  const charge = { reservationId: 'res-1', userId: 'alice', amountCents: 24_000, currency: 'USD' };
  const send = <T>(pattern: string, data: unknown) => firstValueFrom(client.send<T>(pattern, data));

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, nginx: false });
    const svc = await startService(stack, { service: 'payment' });
    http = `http://127.0.0.1:${svc.ports.http}`;
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
    const conn = await mysql.createConnection({
      host: stack.mariadb.primary.host,
      port: stack.mariadb.primary.port,
      ...stack.credentials.app,
      database: 'payment',
    });
    const [rows] = await conn.query('SELECT COUNT(*) AS n FROM payments WHERE reservation_id = ?', [
      'res-1',
    ]);
    await conn.end();
    expect((rows as Array<{ n: number }>)[0].n).toBe(1);
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

    const byId = await fetch(`${http}/api/payments/${refunded.id}`);
    expect(byId.status).toBe(200);
    expect(await byId.json()).toMatchObject({ id: refunded.id, status: 'REFUNDED' });
    const list = await fetch(`${http}/api/payments?reservationId=res-1`);
    expect(((await list.json()) as { items: unknown[] }).items).toHaveLength(1);
  });

  it('answers bad input with 4xx JSON over both transports', async () => {
    await expect(
      send('payment.charge', { reservationId: 'x', userId: 'u', amountCents: 0, currency: 'usd' }),
    ).rejects.toMatchObject({
      status: 400,
      error: 'validation_failed',
    });
    expect((await fetch(`${http}/api/payments/not-a-uuid`)).status).toBe(400);
    expect((await fetch(`${http}/api/payments/00000000-0000-4000-8000-000000000000`)).status).toBe(
      404,
    );
    const missing = await fetch(`${http}/api/payments`);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({
      error: 'validation_failed',
      message: expect.stringMatching(/reservationId/),
    });
  });
});
