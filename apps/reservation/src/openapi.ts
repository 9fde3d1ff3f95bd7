/**
 * The OpenAPI description of stayline's public API, served by reservation at
 * `/api/docs` (the gateway routes that prefix here): the routes Nest finds in
 * this app, completed with what the gateway exposes of payment, recommendation
 * and scrap, described by hand (services never import each other). Only public
 * `/api/*` routes appear: health, metrics and admin routes are not routed.
 */
import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

type Operation = Record<string, unknown>;
type PathItem = Record<string, Operation>;

/** Where the UI, the JSON and the YAML are served (relative to the service root, without a leading slash). */
export const OPENAPI_ROUTES = {
  ui: 'api/docs',
  json: 'api/docs/openapi.json',
  yaml: 'api/docs/openapi.yaml',
} as const;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const error = (description: string) => json(ref('Error'), description);
const query = (name: string, required: boolean, schema: unknown, description: string) => ({
  in: 'query',
  name,
  required,
  schema,
  description,
});
const uuidPath = (name: string) => ({
  in: 'path',
  name,
  required: true,
  schema: { type: 'string', format: 'uuid' },
});
const id64 = { type: 'string', minLength: 1, maxLength: 64 };
const day = { type: 'string', format: 'date', example: '2027-03-14' };

const SCHEMAS: Record<string, unknown> = {
  Error: {
    type: 'object',
    description: 'Every error, from the gateway or a service, has this shape and a 4xx/5xx status.',
    required: ['error', 'message'],
    properties: {
      error: { type: 'string', example: 'validation_failed' },
      message: { type: 'string' },
      requestId: { type: 'string', description: 'The X-Request-Id of the request' },
    },
  },
  Listing: {
    type: 'object',
    properties: {
      id: { type: 'string', example: 'seoul-01' },
      title: { type: 'string' },
      city: { type: 'string', example: 'Seoul' },
      pricePerNight: { type: 'number', example: 120 },
      currency: { type: 'string', example: 'USD' },
      capacity: { type: 'integer', minimum: 1 },
      rating: { type: 'number', example: 4.71 },
      bookings: { type: 'integer' },
    },
  },
  ListingPage: {
    type: 'object',
    properties: {
      items: { type: 'array', items: ref('Listing') },
      ranking: {
        type: 'string',
        enum: ['personalized', 'fallback'],
        description:
          '`fallback`: default order (rating, then popularity), served when recommendation is slow, down or switched off',
      },
      reason: { type: 'string', description: 'Why the fallback order was served' },
    },
  },
  CreateReservation: {
    type: 'object',
    required: ['listingId', 'userId', 'checkIn', 'checkOut', 'guests'],
    properties: {
      listingId: id64,
      userId: id64,
      checkIn: day,
      checkOut: { ...day, description: 'After checkIn; at most 30 nights, up to 365 days ahead' },
      guests: { type: 'integer', minimum: 1, maximum: 16 },
    },
  },
  Reservation: {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      listingId: { type: 'string' },
      userId: { type: 'string' },
      checkIn: day,
      checkOut: day,
      guests: { type: 'integer' },
      amount: { type: 'number' },
      currency: { type: 'string' },
      status: {
        type: 'string',
        enum: ['PENDING_PAYMENT', 'CONFIRMED', 'FAILED', 'CANCELLED'],
      },
      paymentId: { type: 'string', nullable: true },
      failureReason: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
    },
  },
  Payment: {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      reservationId: { type: 'string' },
      userId: { type: 'string' },
      amountCents: { type: 'integer' },
      currency: { type: 'string' },
      status: { type: 'string', enum: ['CHARGED', 'REFUNDED'] },
      createdAt: { type: 'string', format: 'date-time' },
      refundedAt: { type: 'string', format: 'date-time', nullable: true },
    },
  },
  Recommendations: {
    type: 'object',
    properties: {
      userId: { type: 'string' },
      profile: {
        type: 'object',
        description: 'Bookings learned per city and per price band',
        properties: {
          cities: { type: 'object', additionalProperties: { type: 'integer' } },
          bands: { type: 'object', additionalProperties: { type: 'integer' } },
        },
      },
      popular: {
        type: 'array',
        items: {
          type: 'object',
          properties: { listingId: { type: 'string' }, bookings: { type: 'integer' } },
        },
      },
    },
  },
  CreateScrap: {
    type: 'object',
    required: ['userId', 'url'],
    properties: {
      userId: id64,
      url: {
        type: 'string',
        format: 'uri',
        maxLength: 2048,
        description: 'http(s) only; private, loopback and link-local targets are refused',
      },
    },
  },
  Scrap: {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      userId: { type: 'string' },
      url: { type: 'string' },
      openGraph: {
        type: 'object',
        properties: {
          title: { type: 'string' },
          description: { type: 'string' },
          image: { type: 'string' },
          url: { type: 'string' },
          type: { type: 'string' },
          siteName: { type: 'string' },
        },
      },
      createdAt: { type: 'string', format: 'date-time' },
    },
  },
};

const list = (name: string) =>
  ({ type: 'object', properties: { items: { type: 'array', items: ref(name) } } }) as const;
const bad = error('Invalid query, body or path (validation_failed)');

/** The public routes, by path and method; the tag names the service behind each. */
const PUBLIC_PATHS: Record<string, PathItem> = {
  '/api/listings': {
    get: {
      tags: ['reservation'],
      summary: 'Listings, ranked for the user by recommendation when it answers in time',
      parameters: [
        query('city', false, id64, 'Only this city'),
        query('userId', false, id64, 'Rank for this user'),
        query(
          'limit',
          false,
          { type: 'integer', minimum: 1, maximum: 100, default: 20 },
          'Page size',
        ),
      ],
      responses: { 200: json(ref('ListingPage'), 'A page of listings'), 400: bad },
    },
  },
  '/api/reservations': {
    post: {
      tags: ['reservation'],
      summary: 'Book a stay (charged through payment)',
      description:
        'Never retried by the gateway (it is not idempotent by method); send an Idempotency-Key ' +
        'and retry with the same key: the same reservation is returned, never a second booking.',
      parameters: [
        {
          in: 'header',
          name: 'Idempotency-Key',
          required: true,
          schema: { type: 'string', pattern: '^[\\w.:-]{8,128}$' },
        },
      ],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: ref('CreateReservation') } },
      },
      responses: {
        201: json(
          ref('Reservation'),
          'Booked and charged (`Idempotent-Replayed: true` on a replay)',
        ),
        202: json(ref('Reservation'), 'Held; the charge outcome is unknown and is settled shortly'),
        400: bad,
        404: error('No such listing'),
        409: error('Those nights are taken'),
        413: error('Body larger than 64 kB'),
        415: error('The body is not JSON'),
        422: error('Over capacity, payment refused, or the key was used for another request'),
        503: error('Payment is unavailable (Retry-After given); nothing was booked'),
      },
    },
    get: {
      tags: ['reservation'],
      summary: "A user's reservations, newest first",
      parameters: [query('userId', true, id64, 'The user')],
      responses: { 200: json(list('Reservation'), 'Up to 100 reservations'), 400: bad },
    },
  },
  '/api/reservations/{id}': {
    get: {
      tags: ['reservation'],
      summary: 'One reservation',
      parameters: [uuidPath('id')],
      responses: {
        200: json(ref('Reservation'), 'The reservation'),
        400: bad,
        404: error('Unknown id'),
      },
    },
  },
  '/api/reservations/{id}/cancel': {
    post: {
      tags: ['reservation'],
      summary: 'Cancel and refund (cancelling twice is a no-op)',
      parameters: [uuidPath('id')],
      responses: {
        200: json(ref('Reservation'), 'Cancelled'),
        404: error('Unknown id'),
        422: error('The payment is still pending'),
        503: error('Payment is unavailable (Retry-After given)'),
      },
    },
  },
  '/api/payments': {
    get: {
      tags: ['payment'],
      summary: 'The payment of a reservation',
      parameters: [query('reservationId', true, id64, 'The reservation')],
      responses: { 200: json(list('Payment'), 'Zero or one payment'), 400: bad },
    },
  },
  '/api/payments/{id}': {
    get: {
      tags: ['payment'],
      summary: 'One payment',
      parameters: [uuidPath('id')],
      responses: { 200: json(ref('Payment'), 'The payment'), 400: bad, 404: error('Unknown id') },
    },
  },
  '/api/recommendations': {
    get: {
      tags: ['recommendation'],
      summary: 'What recommendation learned about a user, and the most booked listings',
      parameters: [
        query('userId', true, id64, 'The user'),
        query(
          'limit',
          false,
          { type: 'integer', minimum: 1, maximum: 50, default: 10 },
          'Popular listings',
        ),
      ],
      responses: { 200: json(ref('Recommendations'), 'Profile and popular listings'), 400: bad },
    },
  },
  '/api/scraps': {
    post: {
      tags: ['scrap'],
      summary: 'Save a page with its OpenGraph card',
      requestBody: {
        required: true,
        content: { 'application/json': { schema: ref('CreateScrap') } },
      },
      responses: {
        201: json(ref('Scrap'), 'Saved'),
        400: error('Invalid body, or a forbidden target (private, loopback, link-local)'),
        415: error('The body is not JSON'),
        422: error('The page could not be fetched or is not HTML'),
      },
    },
    get: {
      tags: ['scrap'],
      summary: "A user's saved pages",
      parameters: [query('userId', true, id64, 'The user')],
      responses: { 200: json(list('Scrap'), 'Saved pages'), 400: bad },
    },
  },
  '/api/scraps/{id}': {
    delete: {
      tags: ['scrap'],
      summary: 'Delete a saved page',
      parameters: [uuidPath('id')],
      responses: { 204: { description: 'Deleted' }, 404: error('Unknown id') },
    },
  },
};

const PUBLIC = /^\/api\/(?!docs)/;

/**
 * Builds the document: reservation's own routes as Nest registers them (so a
 * route added here shows up even before it is described), merged with the
 * descriptions above. Every operation may also answer the gateway's own JSON
 * errors (404, 413, 502, 503, 504).
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('stayline public API')
    .setDescription(
      'Listings, reservations, payments, recommendations and saved pages, as served by the ' +
        'nginx gateway (one origin, http://localhost:8080 with `npm start`). Every response ' +
        'carries X-Request-Id (set at the gateway when the client sends none); every error is ' +
        '`{ error, message, requestId }`.',
    )
    .setVersion(process.env.npm_package_version ?? '0.1.0')
    .addServer('/', 'The gateway')
    .addTag('reservation', 'Listings and bookings')
    .addTag('payment', 'Payments (read-only over HTTP)')
    .addTag('recommendation', 'What the platform learned from bookings')
    .addTag('scrap', 'Saved pages')
    .build();
  const scanned = SwaggerModule.createDocument(app, config);
  const paths: Record<string, PathItem> = {};
  for (const [path, item] of Object.entries(scanned.paths)) {
    if (PUBLIC.test(path)) paths[path] = { ...(item as PathItem) };
  }
  for (const [path, item] of Object.entries(PUBLIC_PATHS)) {
    paths[path] ??= {};
    for (const [method, op] of Object.entries(item)) {
      const found = paths[path][method] ?? {};
      paths[path][method] = {
        ...found,
        ...op,
        operationId: found.operationId ?? operationId(method, path),
      };
    }
  }
  const sorted = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  // the scanned DTO schemas are empty (no @ApiProperty): keep only those still referenced
  const used = JSON.stringify(sorted);
  const scannedSchemas = Object.entries(scanned.components?.schemas ?? {}).filter(([name]) =>
    used.includes(`"#/components/schemas/${name}"`),
  );
  return {
    ...scanned,
    paths: sorted as OpenAPIObject['paths'],
    components: {
      ...scanned.components,
      schemas: { ...Object.fromEntries(scannedSchemas), ...SCHEMAS },
    } as OpenAPIObject['components'],
  };
}

/** Serves the UI at /api/docs, the document at /api/docs/openapi.json and .yaml. Call before `listen`. */
export function setupOpenApi(app: INestApplication): OpenAPIObject {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup(OPENAPI_ROUTES.ui, app, document, {
    jsonDocumentUrl: OPENAPI_ROUTES.json,
    yamlDocumentUrl: OPENAPI_ROUTES.yaml,
    customSiteTitle: 'stayline API',
  });
  return document;
}

function operationId(method: string, path: string): string {
  const words = path
    .replace(/^\/api\//, '')
    .split(/[/{}]+/)
    .filter(Boolean);
  return method + words.map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}
