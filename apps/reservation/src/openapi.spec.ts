import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { GATEWAY_ROUTES } from '@stayline/gateway';
import { TOKEN_VERIFIER } from '@stayline/identity';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import request from 'supertest';
import { ListingsController } from './listings/listings.controller';
import { ListingsService } from './listings/listings.service';
import { API_ROUTES, apiRouteOf, BEARER_AUTH, PUBLIC_OPERATIONS, setupOpenApi } from './openapi';
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
        // the controllers' BearerAuthGuard is built with them; no request here reaches it
        { provide: TOKEN_VERIFIER, useValue: {} },
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await setupOpenApi(app);
    await app.init();
  });

  afterAll(() => app?.close());

  it('describes every public route of the services, and nothing that is not routed', async () => {
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
        'POST /api/auth/token',
        'GET /api/auth/.well-known/jwks.json',
        'GET /api/auth/me',
      ].sort(),
    );
  });

  it('follows the gateway route table: every public prefix has an operation, none lies outside', async () => {
    const res = await request(app.getHttpServer()).get('/api/docs/openapi.json').expect(200);
    const paths = Object.keys(res.body.paths as Record<string, unknown>);
    // the table's entries left out are the document itself and the dashboard's HTML pages
    expect(GATEWAY_ROUTES.filter((r) => !API_ROUTES.includes(r)).map((r) => r.prefix)).toEqual([
      '/api/docs',
      '/dashboard',
    ]);
    for (const route of API_ROUTES) {
      expect(paths.filter((p) => apiRouteOf(p) === route)).not.toHaveLength(0);
    }
    for (const p of paths) {
      expect(apiRouteOf(p)).toBeDefined();
      expect(p).not.toMatch(/health|metrics|admin/);
    }
  });

  it('derives request schemas from the DTOs (plugin metadata, class-validator bounds)', async () => {
    const res = await request(app.getHttpServer()).get('/api/docs/openapi.json').expect(200);
    const { schemas } = res.body.components;
    expect(schemas.CreateReservationDto.required).toEqual(
      expect.arrayContaining(['listingId', 'checkIn', 'checkOut', 'guests']),
    );
    expect(schemas.CreateReservationDto.properties.guests).toMatchObject({
      minimum: 1,
      maximum: 16,
    });
    expect(schemas.CreateScrapDto.properties.url).toMatchObject({ maxLength: 2048 });
    const limit = (res.body.paths['/api/listings'].get.parameters as Array<{ name: string }>).find(
      (p) => p.name === 'limit',
    );
    expect(limit).toMatchObject({ required: false, schema: { minimum: 1, maximum: 100 } });
  });

  it('names no user in any request: the user is the subject of the bearer token', async () => {
    const res = await request(app.getHttpServer()).get('/api/docs/openapi.json').expect(200);
    const doc = res.body as {
      paths: Record<string, Record<string, { parameters: Array<{ name: string; in: string }> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const named = op.parameters.filter((p) => /^user_?id$/i.test(p.name));
        expect({ op: `${method} ${path}`, named }).toEqual({ op: `${method} ${path}`, named: [] });
      }
    }
    const { schemas } = doc.components;
    expect(Object.keys(schemas.CreateReservationDto.properties ?? {})).not.toContain('userId');
    expect(doc.paths['/api/reservations'].get.parameters).toEqual([]);
    // response bodies still say whose a reservation is
    expect(schemas.Reservation.properties).toHaveProperty('userId');
  });

  it('requires a bearer JWT on every operation but getting a token and the JWKS, with its 401', async () => {
    const res = await request(app.getHttpServer()).get('/api/docs/openapi.json').expect(200);
    const doc = res.body as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.components.securitySchemes[BEARER_AUTH]).toEqual({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: expect.stringContaining('/api/auth/token'),
    });
    expect([...PUBLIC_OPERATIONS].sort()).toEqual(
      ['GET /api/auth/.well-known/jwks.json', 'POST /api/auth/token'].sort(),
    );
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const name = `${method.toUpperCase()} ${path}`;
        const responses = op.responses as Record<string, Record<string, unknown>>;
        if (PUBLIC_OPERATIONS.has(name)) {
          expect({ name, security: op.security }).toEqual({ name, security: [] });
          expect({ name, has401: '401' in responses }).toEqual({ name, has401: false });
          continue;
        }
        expect({ name, security: op.security }).toEqual({
          name,
          security: [{ [BEARER_AUTH]: [] }],
        });
        expect({ name, unauthorized: responses['401'] }).toEqual({
          name,
          unauthorized: expect.objectContaining({
            headers: {
              'WWW-Authenticate': expect.objectContaining({ schema: { type: 'string' } }),
            },
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          }),
        });
        expect(responses['503'].description).toMatch(/keys_unavailable/);
      }
    }
    // another user's reservation is not found, like a missing one
    for (const [path, method] of [
      ['/api/reservations/{id}', 'get'],
      ['/api/reservations/{id}/cancel', 'post'],
    ]) {
      const responses = doc.paths[path][method].responses as Record<
        string,
        { description: string }
      >;
      expect(responses['404'].description).toMatch(/another user's/);
    }
  });

  it('keeps the generated metadata files up to date (npm run openapi:metadata)', () => {
    const root = path.resolve(__dirname, '../../..');
    expect(() =>
      execFileSync(
        process.execPath,
        ['scripts/run.cjs', 'scripts/openapi-metadata.ts', '--check'],
        { cwd: root, stdio: 'pipe' },
      ),
    ).not.toThrow();
  }, 60_000);

  it('documents the Idempotency-Key of a booking and the shared error shape', async () => {
    const res = await request(app.getHttpServer()).get('/api/docs/openapi.json').expect(200);
    const post = res.body.paths['/api/reservations'].post;
    expect(post.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: 'header', name: 'Idempotency-Key', required: true }),
      ]),
    );
    expect(Object.keys(post.responses)).toEqual(
      expect.arrayContaining(['201', '202', '409', '429', '503']),
    );
    // each 409 a booking may answer, by its code; the cap is a 409, the gateway's rate a 429
    const conflict = post.responses['409'].description as string;
    for (const code of ['dates_unavailable', 'idempotency_key_in_use', 'booking_limit_reached'])
      expect(conflict).toContain(code);
    expect(post.responses['429'].description).toMatch(/^Gateway: /);
    expect(post.description).toMatch(/BOOKING_MAX_ACTIVE_PER_USER/);
    expect(post.description).toMatch(/IDEMPOTENCY_KEY_RETENTION_S/);
    expect(res.body.components.schemas.Error.required).toEqual(['error', 'message']);
  });

  it('serves the UI and a YAML copy', async () => {
    const ui = await request(app.getHttpServer()).get('/api/docs').expect(200);
    expect(ui.text).toMatch(/swagger-ui/i);
    const yaml = await request(app.getHttpServer()).get('/api/docs/openapi.yaml').expect(200);
    expect(yaml.text).toMatch(/\/api\/listings:/);
  });
});
