/**
 * Traces in the compose stack (docs/tracing.md): every container a host, the
 * services export OTLP/HTTP to the dashboard's container, the gateway (nginx in
 * its own container) starts the trace. A listing's trace crosses reservation
 * and recommendation over Nest TCP between containers; a booking's crosses
 * reservation and payment; both are read through the gateway's `/dashboard`
 * route (the dev stack's full view), found by the X-Request-Id the client got.
 */
import { HttpClient, login, waitFor } from '@stayline/stack-kit';
import { ComposeStack } from './lib/compose-stack';

jest.setTimeout(120_000);

const stack = ComposeStack.fromEnv();
const G = stack.gateway;
const http = new HttpClient();
afterAll(() => http.close());

interface Span {
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
  service: string;
  instance?: string;
  attributes: Record<string, unknown>;
}

async function traceOf(traceId: string, done: (spans: Span[]) => boolean): Promise<Span[]> {
  let spans: Span[] = [];
  await waitFor(
    `trace ${traceId} in the dashboard`,
    async () => {
      const r = await http.request(`${G}/dashboard/trace-data/${traceId}`);
      if (r.status !== 200) return false;
      spans = r.json<{ spans: Span[] }>().spans;
      return done(spans);
    },
    { timeoutMs: 20_000, intervalMs: 500 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(spans.map((s) => [s.service, s.name]))}`);
  });
  return spans;
}

/**
 * Every span of the request has arrived: each container exports its spans in the order
 * they end, its server span last, and the containers export on their own clocks.
 */
const servedBy =
  (...services: string[]) =>
  (spans: Span[]) =>
    services.every((service) => spans.some((x) => x.service === service && x.kind === 'server'));

/** The server span of `service` under an attempt span of the caller, with the attempt. */
function acrossTcp(spans: Span[], call: string, service: string) {
  const attempt = spans.find((s) => s.name === `${call} attempt`);
  const server = spans.find((s) => s.service === service && s.kind === 'server');
  return { attempt, server };
}

describe('traces across containers', () => {
  let auth: Record<string, string>;

  beforeAll(async () => {
    const t = await login(G, 'alice');
    auth = { authorization: `Bearer ${t.access_token}` };
  });

  it("a listing: the gateway's request id is the trace id, reservation calls recommendation over TCP", async () => {
    const r = await http.request(`${G}/api/listings?limit=3`, { headers: auth });
    expect(r.status).toBe(200);
    const traceId = String(r.headers['x-request-id']);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = await traceOf(traceId, servedBy('reservation', 'recommendation'));
    const root = spans.find((s) => s.service === 'reservation' && s.kind === 'server');
    expect(root?.parentSpanId).toBe(traceId.slice(16));
    const { attempt, server } = acrossTcp(
      spans,
      'recommendation recommendation.rank',
      'recommendation',
    );
    expect(attempt?.service).toBe('reservation');
    expect(server?.parentSpanId).toBe(attempt?.spanId);
    expect(server?.instance).toMatch(/^recommendation-/);
  });

  it('a booking: reservation, payment over TCP, and the statements of both', async () => {
    const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
    const tryNight = (from: number) =>
      http.request(`${G}/api/reservations`, {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': 'application/json',
          'idempotency-key': `trace-${Date.now()}-${from}`,
        },
        body: JSON.stringify({
          listingId: 'jeju-04',
          checkIn: day(from),
          checkOut: day(from + 1),
          guests: 1,
        }),
      });
    // a night another run left booked is a 409: another one then
    let r = await tryNight(10 + Math.floor(Math.random() * 180));
    for (let i = 0; i < 5 && r.status === 409; i++)
      r = await tryNight(10 + Math.floor(Math.random() * 180));
    expect(r.status).toBe(201);
    const traceId = String(r.headers['x-request-id']);
    const spans = await traceOf(traceId, servedBy('reservation', 'payment'));
    const { attempt, server } = acrossTcp(spans, 'payment payment.charge', 'payment');
    expect(server?.parentSpanId).toBe(attempt?.spanId);
    const statements = (service: string) =>
      spans.filter(
        (s) =>
          s.service === service &&
          (s.attributes['db.system'] !== undefined || s.attributes['db.system.name'] !== undefined),
      );
    expect(statements('reservation').length).toBeGreaterThan(0);
    expect(statements('payment').length).toBeGreaterThan(0);
    // cancel it: the nights go back for the next run
    const id = r.json<{ id: string }>().id;
    const cancel = await http.request(`${G}/api/reservations/${id}/cancel`, {
      method: 'POST',
      headers: auth,
    });
    expect([200, 202]).toContain(cancel.status);
  });
});
