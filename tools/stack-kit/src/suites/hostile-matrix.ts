/**
 * The hostile-input matrix: for every operation of the gateway's OpenAPI
 * document, requests a careless or malicious client could send — path ids that
 * are no ids (quotes, NUL, dot segments, bidi and astral characters, 2 kB),
 * query values of the wrong type or shape (repeated, huge, NUL, `__proto__`),
 * bodies that are not objects, fields of every wrong type (null, number, array,
 * object, boolean, lone surrogates, NUL, 20 kB), prototype keys, invalid JSON,
 * other content types, and odd header values. Built from the document at run
 * time, so a new route or field is in the matrix at once. Pure: the suite sends
 * the requests (hostile.ts) and checks each answer.
 */

/** The parts of an OpenAPI 3 document the matrix reads. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, OpenApiSchema> };
}
interface OpenApiOperation {
  parameters?: Array<{ name: string; in: string; schema?: OpenApiSchema }>;
  requestBody?: { content?: Record<string, { schema?: OpenApiSchema }> };
  security?: unknown[];
}
interface OpenApiSchema {
  $ref?: string;
  type?: string;
  properties?: Record<string, OpenApiSchema>;
}

/** One request of the matrix. */
export interface HostileCase {
  /** `METHOD /path/{param}` as the document names the operation. */
  operation: string;
  /** What is odd about it, for a failing row. */
  what: string;
  method: string;
  /** The request target, already encoded. */
  target: string;
  headers: Record<string, string>;
  /** The raw body, if any. */
  body?: string;
}

/** Path ids that are no ids: each must be a 4xx (400 or 404), never a match or a 5xx. */
export const HOSTILE_IDS: ReadonlyArray<[string, string]> = [
  ['a quote', encodeURIComponent("x' OR '1'='1")],
  ['a NUL byte', '%00'],
  ['a percent-encoded NUL inside', 'abc%00def'],
  ['an invalid UTF-8 escape', '%ff%fe'],
  ['a right-to-left override', encodeURIComponent('\u202eabc')],
  ['an astral character', encodeURIComponent('\u{1F600}')],
  ['a full-width id', encodeURIComponent('ｉｄ')],
  ['2 kB of letters', 'a'.repeat(2_048)],
  ['a negative number', '-1'],
  ['a huge number', '1e309'],
  ['a script tag', encodeURIComponent('<script>alert(1)</script>')],
  ['a JSON object', encodeURIComponent('{"$gt":""}')],
  ['__proto__', '__proto__'],
  ['a space', '%20'],
];

/** Query values of the wrong type or shape, for every documented query parameter. */
export const HOSTILE_QUERY_VALUES: ReadonlyArray<[string, (name: string) => string]> = [
  ['letters where a number may be', (n) => `${n}=abc`],
  ['a negative number', (n) => `${n}=-1`],
  ['a float overflow', (n) => `${n}=1e309`],
  ['NaN', (n) => `${n}=NaN`],
  ['the parameter twice', (n) => `${n}=1&${n}=2`],
  ['an array form', (n) => `${n}[]=1&${n}[]=2`],
  ['an object form', (n) => `${n}[$gt]=`],
  ['a NUL byte', (n) => `${n}=%00`],
  ['an invalid UTF-8 escape', (n) => `${n}=%ff`],
  ['4 kB', (n) => `${n}=${'z'.repeat(4_096)}`],
  ['empty', (n) => `${n}=`],
  ['__proto__ beside it', (n) => `${n}=1&__proto__[admin]=1`],
];

/** Values of every wrong type, for every documented body field. */
export const HOSTILE_FIELD_VALUES: ReadonlyArray<[string, unknown]> = [
  ['null', null],
  ['a number', 12345],
  ['a float overflow', 1e308 * 10],
  ['a boolean', true],
  ['an array', ['a', 'b']],
  ['an object', { $gt: '' }],
  ['an empty string', ''],
  ['a NUL byte', 'a\u0000b'],
  ['a lone surrogate', '\ud800'],
  ['a right-to-left override', '\u202eevil'],
  ['20 kB of text', 'x'.repeat(20_000)],
  ['a negative number', -1],
];

/** Whole bodies that are no object, or no JSON. */
export const HOSTILE_BODIES: ReadonlyArray<[string, string, string]> = [
  ['JSON null', 'null', 'application/json'],
  ['a JSON array', '[]', 'application/json'],
  ['a JSON string', '"hello"', 'application/json'],
  ['a JSON number', '42', 'application/json'],
  ['an empty object', '{}', 'application/json'],
  ['invalid JSON', '{"a":', 'application/json'],
  ['JSON with a trailing comma', '{"a":1,}', 'application/json'],
  ['an empty body', '', 'application/json'],
  [
    'a __proto__ key',
    '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}',
    'application/json',
  ],
  ['a duplicated key', '{"a":1,"a":2}', 'application/json'],
  ['plain text', 'hello', 'text/plain'],
  ['a form', 'a=1&b=2', 'application/x-www-form-urlencoded'],
  ['XML', '<?xml version="1.0"?><a>1</a>', 'application/xml'],
  ['JSON as another charset', '{"a":1}', 'application/json; charset=utf-16'],
];

/** Header values a client may get wrong, on every operation. */
export const HOSTILE_HEADERS: ReadonlyArray<[string, Record<string, string>]> = [
  ['an X-Consistency-Token of garbage', { 'x-consistency-token': "1-2-3' OR 1=1" }],
  ['an X-Consistency-Token with NUL', { 'x-consistency-token': '0-1-%00' }],
  ['an Accept nobody serves', { accept: 'application/xml' }],
  ['a 4 kB X-Request-Id', { 'x-request-id': 'r'.repeat(4_096) }],
  ['an Idempotency-Key of 1 kB', { 'idempotency-key': 'k'.repeat(1_024) }],
  ['an Idempotency-Key with odd bytes', { 'idempotency-key': 'a b\tc' }],
];

/** An id nobody has, in the form of the real ones. */
export const MISSING_ID = '00000000-0000-4000-8000-000000000001';

/** `$ref`s followed into `components.schemas`. */
function resolve(doc: OpenApiDocument, schema: OpenApiSchema | undefined): OpenApiSchema {
  let s = schema ?? {};
  for (let i = 0; s.$ref && i < 8; i++)
    s = doc.components?.schemas?.[s.$ref.replace('#/components/schemas/', '')] ?? {};
  return s;
}

/** The matrix for a document; `fill` gives each `{param}` of a path a real id to vary around. */
export function hostileCases(
  doc: OpenApiDocument,
  fill: (operation: string, param: string) => string,
): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [lower, op] of Object.entries(item)) {
      const method = lower.toUpperCase();
      const operation = `${method} ${path}`;
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const filled = (over?: [string, string]) =>
        path.replace(/\{(\w+)\}/g, (_, p: string) =>
          over && over[0] === p ? over[1] : encodeURIComponent(fill(operation, p)),
        );
      const schema = resolve(doc, op.requestBody?.content?.['application/json']?.schema);
      const fields = Object.keys(schema.properties ?? {});
      const validBody = op.requestBody ? '{}' : undefined;
      const base = (what: string, target: string, extra: Partial<HostileCase> = {}) =>
        cases.push({
          operation,
          what,
          method,
          target,
          headers: validBody === undefined ? {} : { 'content-type': 'application/json' },
          body: validBody,
          ...extra,
        });
      for (const p of params)
        for (const [what, value] of HOSTILE_IDS) base(`{${p}} is ${what}`, filled([p, value]));
      const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      for (const q of query)
        for (const [what, make] of HOSTILE_QUERY_VALUES)
          base(`?${q} is ${what}`, `${filled()}?${make(q)}`);
      // odd headers on a request that would otherwise do something (a cancel, a delete) go
      // to an id nobody has: the headers are what is tried, not the object's life
      const headerTarget = method === 'GET' ? filled() : path.replace(/\{(\w+)\}/g, MISSING_ID);
      for (const [what, headers] of HOSTILE_HEADERS)
        base(what, headerTarget, {
          headers: {
            ...(validBody === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
        });
      if (!op.requestBody) continue;
      for (const [what, body, type] of HOSTILE_BODIES)
        base(`the body is ${what}`, filled(), { headers: { 'content-type': type }, body });
      for (const field of fields)
        for (const [what, value] of HOSTILE_FIELD_VALUES)
          base(`.${field} is ${what}`, filled(), {
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ [field]: value }),
          });
      if (fields.length)
        base('every field an array', filled(), {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(Object.fromEntries(fields.map((f) => [f, [f]]))),
        });
    }
  }
  return cases;
}
