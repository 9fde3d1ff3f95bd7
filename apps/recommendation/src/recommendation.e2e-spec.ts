import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import {
  RESERVATION_EVENTS_STREAM,
  RankResponse,
  ReservationEvent,
  TCP_FRAMING,
} from '@stayline/contracts';
import { MessageAuth, withCallContext } from '@stayline/service-runtime';
import { Stack, startStack, waitFor, startService, UserTokens } from '@stayline/stack-kit';
import Redis from 'ioredis';
import { firstValueFrom } from 'rxjs';

jest.setTimeout(120_000);

describe('recommendation service (real MariaDB, Redis Stream, TCP; HTTP with tokens from the real auth service)', () => {
  let stack: Stack;
  let redis: Redis;
  let client: ClientProxy;
  let http: string;
  let tokens: UserTokens;

  interface Overview {
    userId: string;
    profile: { cities: Record<string, number>; bands: Record<string, number> };
    popular: Array<{ listingId: string; bookings: number }>;
  }
  /** GET on the instance, as `user` (a token the stack's auth issued), or with no token. */
  const get = async (path: string, user?: string) =>
    fetch(`${http}${path}`, { headers: user ? await tokens.headers(user) : {} });

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
  /** A message signed as reservation, the one caller rank accepts, with its key in the (dev) stack. */
  const signed = (pattern: string, data: unknown, as = 'reservation') =>
    withCallContext(data, { pattern, auth: MessageAuth.dev(as) });
  const candidates = [
    { id: 'seoul-1', city: 'Seoul', pricePerNight: 90 },
    { id: 'jeju-1', city: 'Jeju', pricePerNight: 300 },
    { id: 'busan-1', city: 'Busan', pricePerNight: 150 },
  ];
  const rank = (userId: string) =>
    firstValueFrom(
      client.send<RankResponse>(
        'recommendation.rank',
        signed('recommendation.rank', { userId, candidates }),
      ),
    );

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, nginx: false });
    const { username, password } = stack.redisAuth('admin');
    redis = new Redis({
      host: stack.redis.primary.host,
      port: stack.redis.primary.port,
      username,
      password,
    });
    const [svc] = await Promise.all([
      startService(stack, { service: 'recommendation' }),
      startService(stack, { service: 'auth', tcpPort: 'none' }),
    ]);
    tokens = UserTokens.of(stack);
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
      const res = await get('/api/recommendations', 'alice');
      const body = (await res.json()) as Overview;
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

  it("shows each caller the token's user's profile only: bob sees his, never alice's", async () => {
    const alice = (await (await get('/api/recommendations', 'alice')).json()) as Overview;
    expect(alice).toMatchObject({ userId: 'alice', profile: { cities: { Busan: 1 } } });
    const res = await get('/api/recommendations', 'bob');
    expect(res.status).toBe(200);
    const bob = (await res.json()) as Overview;
    expect(bob.userId).toBe('bob');
    expect(bob.profile).toEqual({ cities: { Jeju: 1 }, bands: { premium: 1 } });
    // the most booked listings are everyone's, the same for both
    expect(bob.popular).toEqual(alice.popular);
  });

  it('answers without a token, or with a bad one, with 401 JSON and a Bearer challenge', async () => {
    const none = await get('/api/recommendations');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="stayline"/);
    expect(await none.json()).toMatchObject({
      error: 'unauthorized',
      details: { reason: 'missing_token' },
    });
    const forged = await fetch(`${http}/api/recommendations`, {
      headers: { authorization: 'Bearer not.a.token' },
    });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  });

  it('refuses a userId in the query with 400: the user is the token’s subject', async () => {
    const res = await get('/api/recommendations?userId=alice', 'bob');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'validation_failed',
      message: expect.stringMatching(/userId should not exist/),
    });
  });

  it('rejects bad input with a client error, over TCP and HTTP', async () => {
    await expect(
      firstValueFrom(
        client.send(
          'recommendation.rank',
          signed('recommendation.rank', { userId: '', candidates: 'x' }),
        ),
      ),
    ).rejects.toMatchObject({
      status: 400,
      error: 'validation_failed',
    });
    // a message no service signed, or signed by one rank does not take calls from: refused first
    for (const message of [
      { userId: 'alice', candidates },
      signed('recommendation.rank', { userId: 'alice', candidates }, 'scrap'),
    ])
      await expect(
        firstValueFrom(client.send('recommendation.rank', message)),
      ).rejects.toMatchObject({ status: 401, error: 'unauthenticated_call' });
    const res = await get('/api/recommendations?limit=999', 'alice');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'validation_failed',
      message: expect.stringMatching(/limit/),
    });
  });
});
