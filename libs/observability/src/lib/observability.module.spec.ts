import { setTimeout as sleep } from 'node:timers/promises';
import {
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import request from 'supertest';
import { healthRegistry } from './health-registry';
import { metricsRegistry } from './metrics';
import { OBSERVABILITY_LOGGER, ObservabilityModule } from './observability.module';
import { CLIENT_REQUEST_ID_HEADER, REQUEST_ID_HEADER } from './request-id.middleware';
import { RequestContext } from './request-context';

@Controller('echo')
class EchoController {
  constructor(
    private readonly pino: PinoLogger,
    @Inject(OBSERVABILITY_LOGGER) private readonly root: Logger,
  ) {}

  @Get()
  async echo() {
    await sleep(2);
    this.pino.info('through nestjs-pino');
    this.root.info('through the root logger');
    return { requestId: RequestContext.requestId() };
  }
}

@Controller('items')
class ItemsController {
  @Get(':id')
  item(@Param('id') id: string) {
    if (id === 'missing') throw new NotFoundException();
    return { id };
  }
}

/** One series' value from the registry's text exposition, 0 when absent. */
async function sample(name: string, labels: string): Promise<number> {
  const line = (await metricsRegistry.metrics())
    .split('\n')
    .find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('ObservabilityModule (a real Nest app over HTTP)', () => {
  const lines: Array<Record<string, unknown>> = [];
  let app: INestApplication;
  const removers: Array<() => void> = [];

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ObservabilityModule.forRoot({
          service: 'spec',
          destination: { write: (s: string) => lines.push(JSON.parse(s)) },
        }),
      ],
      controllers: [EchoController, ItemsController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(() => app.close());
  afterEach(() => removers.splice(0).forEach((remove) => remove()));

  it('counts and times requests per method, route pattern and status; never a URL, never the probes', async () => {
    const http = request(app.getHttpServer());
    const ok = 'method="GET",route="/items/:id",status="200"';
    const missing = 'method="GET",route="/items/:id",status="404"';
    const unmatched = 'method="GET",route="unmatched",status="404"';
    const before = {
      ok: await sample('http_server_requests_total', ok),
      missing: await sample('http_server_requests_total', missing),
      unmatched: await sample('http_server_requests_total', unmatched),
      timed: await sample(
        'http_server_request_duration_seconds_count',
        'method="GET",route="/items/:id"',
      ),
    };
    await http.get('/items/a').expect(200);
    await http.get('/items/b').expect(200);
    await http.get('/items/missing').expect(404);
    await http.get('/no/such/route/4711').expect(404);
    await http.get('/metrics').expect(200);
    await http.get('/health/live').expect(200);
    await sleep(10); // 'finish' fires after the client has its answer
    expect(await sample('http_server_requests_total', ok)).toBe(before.ok + 2);
    expect(await sample('http_server_requests_total', missing)).toBe(before.missing + 1);
    expect(await sample('http_server_requests_total', unmatched)).toBe(before.unmatched + 1);
    expect(
      await sample('http_server_request_duration_seconds_count', 'method="GET",route="/items/:id"'),
    ).toBe(before.timed + 3);
    const text = await metricsRegistry.metrics();
    expect(text).not.toMatch(/route="[^"]*(4711|\/items\/a|metrics|health)/);
  });

  it('keeps an incoming X-Request-Id and carries it into the handler and every log line', async () => {
    lines.length = 0;
    const res = await request(app.getHttpServer()).get('/echo').set(REQUEST_ID_HEADER, 'edge-123');
    expect(res.status).toBe(200);
    expect(res.headers[REQUEST_ID_HEADER]).toBe('edge-123');
    expect(res.body).toEqual({ requestId: 'edge-123' });
    const messages = lines.filter((l) => l['service'] === 'spec');
    expect(messages.map((l) => l['msg'])).toEqual(
      expect.arrayContaining([
        'through nestjs-pino',
        'through the root logger',
        'request completed',
      ]),
    );
    for (const line of messages) expect(line['requestId']).toBe('edge-123');
  });

  it("logs the client's own id beside the gateway's, and never takes it as the request's id", async () => {
    lines.length = 0;
    const res = await request(app.getHttpServer())
      .get('/echo')
      .set(REQUEST_ID_HEADER, '0123456789abcdef0123456789abcdef')
      .set(CLIENT_REQUEST_ID_HEADER, 'client-7');
    expect(res.headers[REQUEST_ID_HEADER]).toBe('0123456789abcdef0123456789abcdef');
    expect(res.body).toEqual({ requestId: '0123456789abcdef0123456789abcdef' });
    const completed = lines.find((l) => l['msg'] === 'request completed');
    expect(completed).toMatchObject({
      requestId: '0123456789abcdef0123456789abcdef',
      clientRequestId: 'client-7',
    });
    // one that is not a short plain token is not logged (it could be anything)
    lines.length = 0;
    await request(app.getHttpServer())
      .get('/echo')
      .set(CLIENT_REQUEST_ID_HEADER, 'has spaces {"x":1}');
    const odd = lines.find((l) => l['msg'] === 'request completed');
    expect(odd).toBeDefined();
    expect(odd).not.toHaveProperty('clientRequestId');
  });

  it('generates a UUID when the request has no (or an unusable) id', async () => {
    const fresh = await request(app.getHttpServer()).get('/echo');
    expect(fresh.headers[REQUEST_ID_HEADER]).toMatch(/^[0-9a-f-]{36}$/);
    expect(fresh.body.requestId).toBe(fresh.headers[REQUEST_ID_HEADER]);
    const junk = await request(app.getHttpServer())
      .get('/echo')
      .set(REQUEST_ID_HEADER, 'bad id {"x":1}');
    expect(junk.headers[REQUEST_ID_HEADER]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves Prometheus metrics on GET /metrics', async () => {
    const res = await request(app.getHttpServer()).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('answers the health probes: up, degraded (200, said so), down (503)', async () => {
    const http = request(app.getHttpServer());
    expect((await http.get('/health/live')).body.status).toBe('ok');

    removers.push(
      healthRegistry.register('recommendation', () => ({
        status: 'degraded',
        details: { breaker: 'open' },
      })),
    );
    const degraded = await http.get('/health/ready');
    expect(degraded.status).toBe(200);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.details.recommendation).toEqual({
      status: 'up',
      degraded: true,
      breaker: 'open',
    });

    removers.push(
      healthRegistry.register('db', () => ({ status: 'down', details: { error: 'refused' } })),
    );
    const down = await http.get('/health');
    expect(down.status).toBe(503);
    expect(down.body.error.db).toEqual({ status: 'down', error: 'refused' });
    expect((await http.get('/health/live')).status).toBe(200);
  });
});
