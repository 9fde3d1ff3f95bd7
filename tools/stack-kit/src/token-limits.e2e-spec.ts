/**
 * The gateway's per-token limits through real nginx, on one stack (MariaDB,
 * Redis, one instance of every service, the sync): a token is one client from
 * any number of addresses, and each user behind one address (a NAT) is limited
 * apart from the others (docs/security.md, "Edge"). The per-address booking
 * limit is raised out of the way here, so every 429 below is a per-token one;
 * hostile-requests.e2e-spec.ts tests the per-address limits. Each client
 * connects from a loopback address of its own (127.0.0.x).
 */
import {
  HttpClient,
  HttpReply,
  LoopbackClients,
  Stack,
  startServices,
  startStack,
  UserTokens,
} from './index';

jest.setTimeout(120_000);

/**
 * Per token: bookings 6r/m with a burst of 3 (one more every 10 s: none within a
 * test), every request 6r/m with a burst of 10. Per address: out of the way.
 */
const LIMITS = {
  bookingRate: '10000r/s',
  bookingBurst: 10000,
  tokenBookingRate: '6r/m',
  tokenBookingBurst: 3,
  tokenRequestRate: '6r/m',
  tokenRequestBurst: 10,
};

const DAY_MS = 86_400_000;
const day = (offset: number) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);

describe('per-token limits at the gateway (real nginx)', () => {
  let stack: Stack;
  let gw: string;
  let tokens: UserTokens;
  const loopback = new LoopbackClients();
  /** A client connecting from a loopback address no other client uses. */
  const newClient = () => loopback.client();
  let nights = 0;
  /** A booking of one night no other booking here asks for, with a key of its own. */
  const book = (http: HttpClient, headers: Record<string, string>, path = '/api/reservations') => {
    const from = 100 + nights++;
    return http.request(`${gw}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'Idempotency-Key': `token-limits-${Date.now()}-${from}`,
        ...headers,
      },
      body: JSON.stringify({
        listingId: `jeju-${String((from % 12) + 1).padStart(2, '0')}`,
        checkIn: day(from),
        checkOut: day(from + 1),
        guests: 1,
      }),
    });
  };
  /** 429 JSON in the gateway's error shape, its message and Retry-After as given. */
  const expectRefused = (res: HttpReply, message: RegExp, retryAfter: string) => {
    expect(`${res.status} ${res.body.slice(0, 300)}`).toMatch(/^429 /);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.headers['retry-after']).toBe(retryAfter);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.json()).toEqual({
      error: 'too_many_requests',
      message: expect.stringMatching(message),
      requestId: res.headers['x-request-id'],
    });
  };
  const statuses = (replies: HttpReply[]) => replies.map((r) => r.status).sort();

  beforeAll(async () => {
    stack = await startStack({ replicas: 1, nginx: true, gatewayLimits: LIMITS });
    await startServices(stack, { instances: 1 });
    gw = stack.nginx.url;
    tokens = UserTokens.of(stack);
  }, 180_000);

  afterAll(async () => {
    loopback.close();
    await stack?.stop();
  });

  it("limits one token's bookings across addresses; another user's token from the same address still books", async () => {
    const spread = [newClient(), newClient(), newClient(), newClient()];
    const mallory = await tokens.headers('mallory');
    // 8 at once, two from each of four addresses: the first and the burst (3) are booked
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) => book(spread[i % spread.length], mallory)),
    );
    expect(statuses(replies)).toEqual([201, 201, 201, 201, 429, 429, 429, 429]);
    for (const r of replies.filter((x) => x.status === 429))
      // a booking with a token: per address or per token, the longest wait (6r/m: 10 s)
      expectRefused(r, /too many bookings from this address .* or with this token \(6r\/m/, '10');
    // from a fifth address the token is refused too: it is the token that is counted
    expectRefused(await book(newClient(), mallory), /with this token/, '10');
    // and so is it with a trailing slash, which the service takes for a booking all the same
    expectRefused(await book(newClient(), mallory, '/api/reservations/'), /with this token/, '10');
    expect(
      (await book(newClient(), await tokens.headers('slash'), '/api/reservations/')).status,
    ).toBe(201);
    // another user behind one of the same addresses (a NAT) books at once
    expect((await book(spread[0], await tokens.headers('neighbour'))).status).toBe(201);
    // its reads are still served: the booking limit is the stricter one
    const read = await spread[1].request(`${gw}/api/reservations`, { headers: mallory });
    expect(read.status).toBe(200);
  });

  it("limits one token's requests to the API, every route: 429 past the burst; other tokens unaffected", async () => {
    const http = newClient();
    const reader = await tokens.headers('reader');
    const routes = ['/api/listings?limit=1', '/api/reservations', '/api/recommendations'];
    const replies: HttpReply[] = [];
    for (let i = 0; i < 12; i++)
      replies.push(await http.request(`${gw}${routes[i % routes.length]}`, { headers: reader }));
    // the first and the burst (10), then refused
    expect(replies.map((r) => r.status)).toEqual([...Array(11).fill(200), 429]);
    expectRefused(
      replies[11],
      /^too many requests with this token \(6r\/m\); retry after 10 s$/,
      '10',
    );
    // so is its booking now (the request limit counts bookings too)
    expectRefused(await book(newClient(), reader), /with this token/, '10');
    // another token from the same address is served
    const other = await http.request(`${gw}/api/listings?limit=1`, {
      headers: await tokens.headers('other-reader'),
    });
    expect(other.status).toBe(200);
  });

  it('does not count a request without a well-formed token: each is 401 from the service, never 429, and no token pays for it', async () => {
    const http = newClient();
    const refused: HttpReply[] = [];
    // far more than any token's burst, all sharing the same (empty) key if it were counted
    for (const authorization of [undefined, 'Basic YWxpY2U6cGFzcw==', 'Bearer not-a-jwt'])
      for (let i = 0; i < 8; i++) {
        const headers: Record<string, string> = authorization ? { authorization } : {};
        refused.push(await http.request(`${gw}/api/reservations`, { headers }));
        refused.push(await book(http, headers));
      }
    expect(new Set(refused.map((r) => r.status))).toEqual(new Set([401]));
    for (const r of refused) expect(r.json()).toMatchObject({ error: 'unauthorized' });
    // the address itself is not limited by them: a user books from it at once, many times over
    const user = await tokens.headers('after-anonymous');
    const booked = await Promise.all(Array.from({ length: 4 }, () => book(http, user)));
    expect(statuses(booked)).toEqual([201, 201, 201, 201]);
  });
});
