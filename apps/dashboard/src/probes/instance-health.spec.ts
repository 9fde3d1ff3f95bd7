import { parseInstanceHealth } from './instance-health';
import { pairs } from './redis.probe';

// the shape terminus answers on a reservation instance (libs/observability, libs/resilience)
const body = {
  status: 'degraded',
  details: {
    discovery: {
      status: 'up',
      service: 'reservation',
      registered: true,
      inFlight: 3,
      completed: 1520,
      failed: 7,
    },
    database: { status: 'up', epoch: 1 },
    'dependency:payment': {
      status: 'up',
      essential: true,
      state: 'closed',
      retryAfterMs: 0,
      endpoints: {
        'payment-1': { state: 'closed', since: 1 },
        'payment-2': { state: 'closed', since: 1 },
      },
    },
    'dependency:recommendation': {
      status: 'up',
      degraded: true,
      essential: false,
      state: 'open',
      retryAfterMs: 12_000,
      endpoints: {
        'recommendation-1': { state: 'open', since: 1, reason: '3 timeouts', retryAfterMs: 12_000 },
      },
    },
  },
};

describe('parseInstanceHealth', () => {
  it('reads health, in-flight (without the probe itself) and every breaker', () => {
    const r = parseInstanceHealth('reservation-1', 200, body);
    expect(r.health).toBe('degraded');
    expect(r.inFlight).toBe(2);
    expect(r).toMatchObject({ completed: 1520, failed: 7 });
    expect(r.breakers.map((b) => `${b.dependency}/${b.endpoint}=${b.state}`)).toEqual([
      'payment/*=closed',
      'payment/payment-1=closed',
      'payment/payment-2=closed',
      'recommendation/*=open',
      'recommendation/recommendation-1=open',
    ]);
    expect(r.breakers[4]).toMatchObject({
      caller: 'reservation-1',
      essential: false,
      reason: '3 timeouts',
      retryAfterMs: 12_000,
    });
  });

  it('reads a 503 as down and names the indicators that are down', () => {
    const r = parseInstanceHealth('payment-1', 503, {
      status: 'error',
      details: { database: { status: 'down' }, discovery: { status: 'up', inFlight: 1 } },
    });
    expect(r).toMatchObject({ health: 'down', inFlight: 0, error: 'down: database', breakers: [] });
  });

  it('tolerates a body that is not terminus JSON', () => {
    expect(parseInstanceHealth('x-1', 502, 'bad gateway')).toMatchObject({
      health: 'down',
      breakers: [],
    });
    expect(parseInstanceHealth('x-1', 200, { status: 'ok' })).toMatchObject({
      health: 'up',
      inFlight: undefined,
      completed: undefined,
    });
    // an older instance: in flight, no counters
    const older = parseInstanceHealth('x-1', 200, {
      status: 'ok',
      details: { discovery: { status: 'up', inFlight: 1, completed: 'many' } },
    });
    expect(older).toMatchObject({ inFlight: 0, completed: undefined, failed: undefined });
  });
});

describe('pairs (Sentinel replies)', () => {
  it('turns a flat key/value list into a record', () => {
    expect(pairs(['ip', '127.0.0.1', 'port', '6480', 'flags', 'slave'])).toEqual({
      ip: '127.0.0.1',
      port: '6480',
      flags: 'slave',
    });
    expect(pairs(null)).toEqual({});
  });
});
