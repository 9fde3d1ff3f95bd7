import { Controller, Get, Param, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ObservabilityModule, REQUEST_ID_HEADER, healthRegistry } from '@stayline/observability';
import request from 'supertest';
import { DependencyPolicy } from '../dependency-policy';
import { DependencyPolicies, InjectDependency, ResilienceModule } from './resilience.module';

const refused = () =>
  Promise.reject(
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4201'), { code: 'ECONNREFUSED' }),
  );

@Controller()
class ListingController {
  constructor(
    @InjectDependency('payment') private readonly payment: DependencyPolicy,
    @InjectDependency('recommendation') private readonly recommendation: DependencyPolicy,
  ) {}

  @Get('charge/:id')
  charge(@Param('id') id: string) {
    return this.payment.call({ idempotencyKey: id }, refused);
  }

  @Get('listings')
  async listings() {
    const order = await this.recommendation.call({ idempotent: true }, refused, () => [
      'default-1',
      'default-2',
    ]);
    return {
      listings: order.value,
      ...(order.degraded ? { degraded: true, reason: order.reason } : {}),
    };
  }
}

describe('ResilienceModule in a Nest app', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ObservabilityModule.forRoot({ service: 'spec', destination: { write: () => undefined } }),
        ResilienceModule.forRoot({
          dependencies: [
            { name: 'payment', essential: true, resetTimeoutMs: 30_000, resetJitter: 0 },
            { name: 'recommendation', essential: false },
          ],
        }),
      ],
      controllers: [ListingController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(() => app?.close());

  it('answers a failing essential call with a 503, a JSON error and Retry-After from the open breaker', async () => {
    const http = request(app.getHttpServer());
    const first = await http.get('/charge/r-1').set(REQUEST_ID_HEADER, 'req-1');
    expect(first.status).toBe(503);
    expect(first.body).toEqual({
      error: 'dependency_unavailable',
      message: 'payment unavailable: connect ECONNREFUSED 127.0.0.1:4201',
      dependency: 'payment',
      requestId: 'req-1',
    });
    expect(first.headers['retry-after']).toBe('1');
    await http.get('/charge/r-2');
    await http.get('/charge/r-3');
    const open = await http.get('/charge/r-4').set(REQUEST_ID_HEADER, 'req-4');
    expect(open.status).toBe(503);
    expect(open.body).toMatchObject({ dependency: 'payment', requestId: 'req-4' });
    expect(open.body.message).toMatch(/^payment: circuit open on every endpoint/);
    expect(Number(open.headers['retry-after'])).toBeGreaterThanOrEqual(29);
    expect(Number(open.headers['retry-after'])).toBeLessThanOrEqual(30);
  });

  it('answers a failing non-essential call with the fallback, marked degraded', async () => {
    const res = await request(app.getHttpServer()).get('/listings');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      listings: ['default-1', 'default-2'],
      degraded: true,
      reason: 'recommendation unavailable: connect ECONNREFUSED 127.0.0.1:4201',
    });
  });

  it('shows the open breaker in /health as degraded, still 200', async () => {
    const res = await request(app.getHttpServer()).get('/health/ready');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('degraded');
    expect(res.body.details['dependency:payment']).toMatchObject({
      status: 'up',
      degraded: true,
      state: 'open',
      essential: true,
    });
  });

  it('disposes every policy on shutdown: calls are cancelled, health entries withdrawn', async () => {
    const recommendation = app.get(DependencyPolicies).get('recommendation');
    expect(Object.keys((await healthRegistry.check()).checks)).toEqual([
      'dependency:payment',
      'dependency:recommendation',
    ]);
    await app.close();
    await expect(recommendation.call({}, async () => 'late')).rejects.toThrow(
      'recommendation unavailable: call cancelled',
    );
    expect((await healthRegistry.check()).checks).toEqual({});
  });
});
