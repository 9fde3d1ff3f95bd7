import { OtlpFormatError, readOtlpTraces, SPAN_LIMITS, type SpanRecord } from './otlp';
import { inTreeOrder, TraceStore } from './trace-store';

const T = 'ab'.repeat(16);
const T0 = Date.now();
/** Nanoseconds of T0 + `ms`, as the exporter writes them. */
const ns = (ms: number) => String(BigInt(T0 + ms) * 1_000_000n);
const attr = (key: string, value: Record<string, unknown>) => ({ key, value });

/** An export as @opentelemetry/exporter-trace-otlp-http posts it (hex ids, nanosecond strings). */
const exportOf = (service: string, spans: unknown[]) => ({
  resourceSpans: [
    {
      resource: {
        attributes: [
          attr('service.name', { stringValue: service }),
          attr('service.instance.id', { stringValue: `${service}-1` }),
        ],
      },
      scopeSpans: [{ scope: { name: 'stayline' }, spans }],
    },
  ],
});

describe('readOtlpTraces', () => {
  it('reads spans with their resource, kind, status, attributes and events', () => {
    const { spans, rejected } = readOtlpTraces(
      exportOf('payment', [
        {
          traceId: T,
          spanId: '0000000000000002',
          parentSpanId: '0000000000000001',
          name: 'payment.charge',
          kind: 2,
          startTimeUnixNano: ns(1_000),
          endTimeUnixNano: ns(1_012),
          status: { code: 2, message: 'declined' },
          attributes: [
            attr('rpc.system', { stringValue: 'nestjs-tcp' }),
            attr('stayline.attempt', { intValue: '2' }),
            attr('ok', { boolValue: true }),
            attr('endpoints', {
              arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] },
            }),
          ],
          events: [{ name: 'retry', timeUnixNano: ns(1_005), attributes: [] }],
        },
      ]),
    );
    expect(rejected).toBe(0);
    expect(spans).toEqual([
      {
        traceId: T,
        spanId: '0000000000000002',
        parentSpanId: '0000000000000001',
        name: 'payment.charge',
        kind: 'server',
        service: 'payment',
        instance: 'payment-1',
        scope: 'stayline',
        startMs: T0 + 1_000,
        durationMs: 12,
        status: 'error',
        statusMessage: 'declined',
        attributes: {
          'rpc.system': 'nestjs-tcp',
          'stayline.attempt': 2,
          ok: true,
          endpoints: ['a', 'b'],
        },
        events: [{ name: 'retry', timeMs: T0 + 1_005, attributes: {} }],
      },
    ]);
  });

  it('reads base64 ids (the protobuf JSON mapping) and skips spans without valid ids or times', () => {
    const { spans, rejected } = readOtlpTraces(
      exportOf('reservation', [
        {
          traceId: Buffer.from(T, 'hex').toString('base64'),
          spanId: Buffer.from('0102030405060708', 'hex').toString('base64'),
          name: 'GET /api/listings',
          kind: 2,
          startTimeUnixNano: ns(5),
          endTimeUnixNano: ns(6),
        },
        {
          traceId: 'nope',
          spanId: '0000000000000001',
          startTimeUnixNano: ns(1),
          endTimeUnixNano: ns(2),
        },
        {
          traceId: T,
          spanId: '0000000000000003',
          startTimeUnixNano: 'soon',
          endTimeUnixNano: ns(2),
        },
      ]),
    );
    expect(spans.map((s) => [s.traceId, s.spanId])).toEqual([[T, '0102030405060708']]);
    expect(rejected).toBe(2);
  });

  it('refuses a span from an absurd clock, and cuts one too large to hold', () => {
    // nested as a hostile body may be (parsed by V8 as the receiver's body parser does)
    const deep = (n: number) =>
      JSON.parse(
        '{"arrayValue":{"values":['.repeat(n) + '{"stringValue":"x"}' + ']}}'.repeat(n),
      ) as Record<string, unknown>;
    const { spans, rejected } = readOtlpTraces(
      exportOf('payment', [
        {
          traceId: T,
          spanId: '0000000000000001',
          startTimeUnixNano: '1' + '0'.repeat(25),
          endTimeUnixNano: '1' + '0'.repeat(25),
        },
        {
          traceId: T,
          spanId: '0000000000000002',
          startTimeUnixNano: ns(10),
          endTimeUnixNano: ns(5),
        },
        {
          traceId: T,
          spanId: '0000000000000003',
          name: 'n'.repeat(5_000),
          startTimeUnixNano: ns(0),
          endTimeUnixNano: ns(1),
          attributes: [
            attr('deep', deep(2_000)),
            attr('long', { stringValue: 'v'.repeat(10_000) }),
            ...Array.from({ length: 500 }, (_, i) => attr(`k${i}`, { intValue: i })),
          ],
          events: Array.from({ length: 500 }, () => ({ name: 'e', timeUnixNano: ns(0) })),
        },
      ]),
    );
    expect(rejected).toBe(2);
    const [span] = spans;
    expect(span.name).toHaveLength(SPAN_LIMITS.text + 1);
    expect(Object.keys(span.attributes)).toHaveLength(SPAN_LIMITS.items);
    expect(JSON.stringify(span.attributes['deep'])).toBe('[[["[nested too deep]"]]]');
    expect(String(span.attributes['long'])).toHaveLength(SPAN_LIMITS.text + 1);
    expect(span.events).toHaveLength(SPAN_LIMITS.items);
  });

  it('refuses a body that is not an export', () => {
    for (const body of [null, [], {}, { resourceSpans: 'x' }])
      expect(() => readOtlpTraces(body)).toThrow(OtlpFormatError);
  });
});

const span = (
  id: string,
  parent: string | undefined,
  start: number,
  o: Partial<SpanRecord> = {},
): SpanRecord => ({
  traceId: T,
  spanId: id.padStart(16, '0'),
  parentSpanId: parent?.padStart(16, '0'),
  name: `span ${id}`,
  kind: 'internal',
  service: 'reservation',
  scope: 'stayline',
  startMs: start,
  durationMs: 10,
  status: 'unset',
  attributes: {},
  events: [],
  ...o,
});

describe('TraceStore', () => {
  it("orders a trace's spans parents first, siblings by start; a span whose parent never arrived is a root", () => {
    const spans = [span('3', '1', 20), span('2', '1', 10), span('1', 'f', 0), span('4', '2', 11)];
    expect(inTreeOrder(spans).map((s) => s.spanId.slice(-1))).toEqual(['1', '2', '4', '3']);
  });

  it('summarizes: root, duration from first start to last end, services, errors and notable events', () => {
    const store = new TraceStore();
    store.add([
      span('1', undefined, 100, { name: 'POST /api/reservations', kind: 'server' }),
      span('2', '1', 105, {
        service: 'payment',
        durationMs: 40,
        status: 'error',
        events: [{ name: 'retry', timeMs: 106, attributes: {} }],
      }),
    ]);
    expect(store.list()).toEqual([
      {
        traceId: T,
        root: { name: 'POST /api/reservations', service: 'reservation' },
        startedAt: new Date(100).toISOString(),
        durationMs: 45,
        spanCount: 2,
        services: ['payment', 'reservation'],
        error: true,
        notable: ['retry'],
      },
    ]);
    expect(store.list({ minDurationMs: 46 })).toEqual([]);
    expect(store.list({ service: 'payment' })).toHaveLength(1);
    expect(store.list({ service: 'scrap' })).toEqual([]);
    expect(store.get(T.toUpperCase())).toHaveLength(2);
  });

  it('keeps at most maxTraces traces (the least recently fed leaves) and maxSpansPerTrace spans each', () => {
    const store = new TraceStore(2, 3);
    const of = (trace: string, id: string) => ({
      ...span(id, undefined, Number(id)),
      traceId: trace.repeat(32),
    });
    store.add([of('a', '1'), of('b', '2')]);
    store.add([of('a', '3')]); // a is fed again: b is now the oldest
    store.add([of('c', '4')]);
    expect(store.get('b'.repeat(32))).toBeUndefined();
    expect(store.get('a'.repeat(32))).toHaveLength(2);
    store.add([of('c', '5'), of('c', '6'), of('c', '7')]);
    expect(store.get('c'.repeat(32))).toHaveLength(3);
    expect(store.droppedSpans).toBe(1);
    expect(store.size).toBe(2);
  });
});
