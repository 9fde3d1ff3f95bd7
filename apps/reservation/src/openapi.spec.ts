import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { ListingsController } from './listings/listings.controller';
import { ListingsService } from './listings/listings.service';
import { setupOpenApi } from './openapi';
import { ReservationsController } from './reservations/reservations.controller';
import { ReservationsService } from './reservations/reservations.service';

describe('OpenAPI description at /api/docs', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [ListingsController, ReservationsController],
      providers: [
        { provide: ListingsService, useValue: {} },
        { provide: ReservationsService, useValue: {} },
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    setupOpenApi(app);
    await app.init();
  });

  afterAll(() => app?.close());

  it('describes every public route of the four services, and nothing that is not routed', async () => {
    const res = await request(app.getHttpServer()).get('/api/docs/openapi.json').expect(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /api/listings',
        'GET /api/payments',
        'GET /api/payments/{id}',
        'GET /api/recommendations',
        'GET /api/reservations',
        'GET /api/reservations/{id}',
        'POST /api/reservations',
        'POST /api/reservations/{id}/cancel',
        'GET /api/scraps',
        'POST /api/scraps',
        'DELETE /api/scraps/{id}',
      ].sort(),
    );
  });

  it('documents the Idempotency-Key of a booking and the shared error shape', async () => {
    const res = await request(app.getHttpServer()).get('/api/docs/openapi.json').expect(200);
    const post = res.body.paths['/api/reservations'].post;
    expect(post.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: 'header', name: 'Idempotency-Key', required: true }),
      ]),
    );
    expect(Object.keys(post.responses)).toEqual(
      expect.arrayContaining(['201', '202', '409', '503']),
    );
    expect(res.body.components.schemas.Error.required).toEqual(['error', 'message']);
  });

  it('serves the UI and a YAML copy', async () => {
    const ui = await request(app.getHttpServer()).get('/api/docs').expect(200);
    expect(ui.text).toMatch(/swagger-ui/i);
    const yaml = await request(app.getHttpServer()).get('/api/docs/openapi.yaml').expect(200);
    expect(yaml.text).toMatch(/\/api\/listings:/);
  });
});
