import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import {
  RESERVATION_EVENTS_STREAM,
  RankResponse,
  ReservationEvent,
  TCP_FRAMING,
} from '@stayline/contracts';
import { Stack, startStack, waitFor, startService } from '@stayline/stack-kit';
import Redis from 'ioredis';
import { firstValueFrom } from 'rxjs';

jest.setTimeout(120_000);

describe('recommendation service (real MariaDB, Redis Stream, TCP)', () => {
  let stack: Stack;
  let redis: Redis;
  let client: ClientProxy;
  let http: string;

  const event = (n: number, over: Partial<ReservationEvent>): ReservationEvent => ({
    eventId: `evt-${n}`,
    type: 'reservation.confirmed',
    reservationId: `r-${n}`,
    userId: 'alice',
    listingId: 'busan-1',
    city: 'Busan',
    pricePerNight: 150,
    at: new Date().toISOString(),
    ...over,
  });
  const publish = (e: unknown) =>
    redis.xadd(
      RESERVATION_EVENTS_STREAM,
      '*',
      'event',
      typeof e === 'string' ? e : JSON.stringify(e),
    );
  const rank = (userId: string) =>
    firstValueFrom(
      client.send<RankResponse>('recommendation.rank', {
        userId,
        candidates: [
          { id: 'seoul-1', city: 'Seoul', pricePerNight: 90 },
          { id: 'jeju-1', city: 'Jeju', pricePerNight: 300 },
          { id: 'busan-1', city: 'Busan', pricePerNight: 150 },
        ],
      }),
    );

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, nginx: false });
    redis = new Redis({ host: stack.redis.primary.host, port: stack.redis.primary.port });
    const svc = await startService(stack, { service: 'recommendation' });
    http = `http://127.0.0.1:${svc.ports.http}`;
    client = ClientProxyFactory.create({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: svc.ports.tcp, ...TCP_FRAMING },
    });
  });

  afterAll(async () => {
    await client?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  it('ranks by the default order for a user it knows nothing of', async () => {
    const res = await rank('nobody');
    expect(res.ranked.map((r) => r.id)).toEqual(['seoul-1', 'jeju-1', 'busan-1']);
  });

  it('learns from events, applies a redelivered event once and drops a malformed one', async () => {
    await publish(event(1, {}));
    await publish(event(1, {})); // the same event delivered twice
    await publish('{not json');
    await publish(
      event(2, { userId: 'bob', listingId: 'jeju-1', city: 'Jeju', pricePerNight: 300 }),
    );
    await waitFor('events applied', async () => {
      const res = await fetch(`${http}/api/recommendations?userId=alice`);
      const body = (await res.json()) as {
        profile: { cities: Record<string, number> };
        popular: unknown[];
      };
      return body.profile.cities.Busan === 1 && body.popular.length === 2;
    });
    const res = await rank('alice');
    expect(res.ranked[0].id).toBe('busan-1');
    const pending = (await redis.xpending(RESERVATION_EVENTS_STREAM, 'recommendation')) as [
      number,
      ...unknown[],
    ];
    expect(pending[0]).toBe(0);
  });

  it('rejects bad input with a client error, over TCP and HTTP', async () => {
    await expect(
      firstValueFrom(client.send('recommendation.rank', { userId: '', candidates: 'x' })),
    ).rejects.toMatchObject({
      status: 400,
      error: 'validation_failed',
    });
    const res = await fetch(`${http}/api/recommendations?userId=a&limit=999`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'validation_failed',
      message: expect.stringMatching(/limit/),
    });
  });
});
