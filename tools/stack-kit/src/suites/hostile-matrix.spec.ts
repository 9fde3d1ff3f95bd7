import {
  HOSTILE_BODIES,
  HOSTILE_FIELD_VALUES,
  HOSTILE_HEADERS,
  HOSTILE_IDS,
  HOSTILE_QUERY_VALUES,
  hostileCases,
  MISSING_ID,
  type OpenApiDocument,
} from './hostile-matrix';

const DOC: OpenApiDocument = {
  paths: {
    '/api/things': {
      get: { parameters: [{ name: 'limit', in: 'query' }] },
      post: {
        requestBody: {
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } },
        },
      },
    },
    '/api/things/{id}': { delete: {} },
  },
  components: {
    schemas: { Thing: { type: 'object', properties: { name: {}, size: {} } } },
  },
};

describe('hostileCases', () => {
  const cases = hostileCases(DOC, () => 'real-id');
  const of = (operation: string) => cases.filter((c) => c.operation === operation);

  it('varies every query parameter, every path id, every header, every body and every field of the document', () => {
    expect(of('GET /api/things')).toHaveLength(
      HOSTILE_QUERY_VALUES.length + HOSTILE_HEADERS.length,
    );
    expect(of('DELETE /api/things/{id}')).toHaveLength(HOSTILE_IDS.length + HOSTILE_HEADERS.length);
    // the body's fields come from the $ref'd schema: 2 fields × each value, and all as arrays
    expect(of('POST /api/things')).toHaveLength(
      HOSTILE_HEADERS.length + HOSTILE_BODIES.length + 2 * HOSTILE_FIELD_VALUES.length + 1,
    );
    expect(of('POST /api/things').map((c) => c.body)).toContain(JSON.stringify({ size: null }));
  });

  it('sends odd headers of a request that would change something to an id nobody has', () => {
    const headerCases = of('DELETE /api/things/{id}').filter((c) =>
      HOSTILE_HEADERS.some(([what]) => what === c.what),
    );
    expect(headerCases.map((c) => c.target)).toEqual(
      HOSTILE_HEADERS.map(() => `/api/things/${MISSING_ID}`),
    );
    // and the hostile ids in place of the real one, encoded as sent
    const idCases = of('DELETE /api/things/{id}').filter((c) => c.what.startsWith('{id}'));
    expect(idCases.map((c) => c.target)).toContain('/api/things/%00');
    expect(idCases.every((c) => !c.target.includes('real-id'))).toBe(true);
  });

  it('keeps a JSON content type on the odd-header cases of an operation with a body', () => {
    const post = of('POST /api/things').filter((c) => HOSTILE_HEADERS.some(([w]) => w === c.what));
    expect(
      post.every((c) => c.headers['content-type'] === 'application/json' && c.body === '{}'),
    ).toBe(true);
  });
});
