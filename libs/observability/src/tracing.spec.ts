import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { tracingSettings } from './tracing';
import { isWrapped } from '@opentelemetry/instrumentation';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import {
  onlyWhileRecording,
  PooledIdGenerator,
  recordSpansInMemory,
  RequestRootSampler,
} from './tracing-sdk';

describe('tracingSettings', () => {
  it('is off without an endpoint, and when OTEL_SDK_DISABLED says so', () => {
    expect(tracingSettings('payment', {})).toMatchObject({ enabled: false, sampleRatio: 1 });
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4900/' };
    expect(tracingSettings('payment', on)).toEqual({
      enabled: true,
      endpoint: 'http://127.0.0.1:4900/v1/traces',
      sampleRatio: 1,
      serviceName: 'payment',
      instanceId: undefined,
    });
    expect(tracingSettings('payment', { ...on, OTEL_SDK_DISABLED: 'TRUE' }).enabled).toBe(false);
  });

  it('prefers the traces endpoint, the service name and the ratio set in the environment', () => {
    expect(
      tracingSettings('payment', {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:1',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:2/v1/traces',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_SERVICE_NAME: 'payment-eu',
        INSTANCE_ID: 'payment-1',
      }),
    ).toEqual({
      enabled: true,
      endpoint: 'http://b:2/v1/traces',
      sampleRatio: 0.25,
      serviceName: 'payment-eu',
      instanceId: 'payment-1',
    });
  });

  it('refuses a ratio outside 0..1 and an endpoint that is not an http URL, naming the variable', () => {
    expect(() => tracingSettings('p', { OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(
      /OTEL_TRACES_SAMPLER_ARG/,
    );
    expect(() => tracingSettings('p', { OTEL_TRACES_SAMPLER_ARG: 'half' })).toThrow(
      /OTEL_TRACES_SAMPLER_ARG/,
    );
    expect(() =>
      tracingSettings('p', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'file:///etc/passwd' }),
    ).toThrow(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/);
  });
});

describe('RequestRootSampler', () => {
  const id = 'a'.repeat(32);
  const decide = (sampler: RequestRootSampler, kind: SpanKind, ctx = ROOT_CONTEXT) =>
    sampler.shouldSample(ctx, id, 'x', kind, {}, []).decision;
  const withParent = (flags: TraceFlags) =>
    trace.setSpanContext(context.active(), {
      traceId: id,
      spanId: 'b'.repeat(16),
      traceFlags: flags,
      isRemote: true,
    });

  it('starts a trace only at a request: a server span without parent, never a background query', () => {
    const all = new RequestRootSampler(1);
    expect(decide(all, SpanKind.SERVER)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(all, SpanKind.CLIENT)).toBe(SamplingDecision.NOT_RECORD);
    expect(decide(all, SpanKind.INTERNAL)).toBe(SamplingDecision.NOT_RECORD);
    expect(decide(new RequestRootSampler(0), SpanKind.SERVER)).toBe(SamplingDecision.NOT_RECORD);
  });

  it("follows the caller's decision (the gateway's) whatever its own ratio", () => {
    const none = new RequestRootSampler(0);
    expect(decide(none, SpanKind.SERVER, withParent(TraceFlags.SAMPLED))).toBe(
      SamplingDecision.RECORD_AND_SAMPLED,
    );
    expect(decide(new RequestRootSampler(1), SpanKind.CLIENT, withParent(TraceFlags.NONE))).toBe(
      SamplingDecision.NOT_RECORD,
    );
  });
});

describe('PooledIdGenerator', () => {
  it('draws valid, distinct trace and span ids', () => {
    const ids = new PooledIdGenerator();
    const traces = Array.from({ length: 1_000 }, () => ids.generateTraceId());
    const spans = Array.from({ length: 1_000 }, () => ids.generateSpanId());
    for (const t of traces) expect(t).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    for (const s of spans) expect(s).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
    expect(new Set(traces).size).toBe(1_000);
    expect(new Set(spans).size).toBe(1_000);
  });
});

describe('onlyWhileRecording', () => {
  type Wrap = (
    nodule: object,
    name: string,
    wrapper: (original: (sql: string) => string) => (sql: string) => string,
  ) => void;

  it("runs a named method's wrapper only while the running span records", async () => {
    const recorder = recordSpansInMemory();
    try {
      const calls: string[] = [];
      const connection = {
        query: (sql: string) => (calls.push(`query ${sql}`), sql),
        ping: (sql: string) => (calls.push(`ping ${sql}`), sql),
      };
      // disabled: no require hook; the test calls the instrumentation's _wrap as its patch would
      const mysql2 = onlyWhileRecording(new MySQL2Instrumentation({ enabled: false }), ['query']);
      const wrap = (mysql2 as unknown as { _wrap: Wrap })._wrap;
      const wrapper = (original: (sql: string) => string) => (sql: string) => {
        calls.push(`span ${sql}`);
        return original(sql);
      };
      wrap(connection, 'query', wrapper);
      wrap(connection, 'ping', wrapper);
      expect(isWrapped(connection.query)).toBe(true);

      expect(connection.query('no span')).toBe('no span');
      const unsampled = trace.setSpan(
        ROOT_CONTEXT,
        trace.wrapSpanContext({
          traceId: '0af7651916cd43dd8448eb211c80319c',
          spanId: 'b7ad6b7169203331',
          traceFlags: TraceFlags.NONE,
        }),
      );
      context.with(unsampled, () => connection.query('unsampled'));
      trace.getTracer('test').startActiveSpan('request', { kind: SpanKind.SERVER }, (span) => {
        expect(span.isRecording()).toBe(true);
        connection.query('sampled');
        span.end();
      });
      // a method not named is wrapped as the instrumentation asked, span or not
      connection.ping('no span');

      // an error handler (four parameters) the instrumentation leaves alone stays itself
      const handler = (_e: unknown, _q: unknown, _r: unknown, _n: unknown) => undefined;
      const layer = { query: handler };
      wrap(layer, 'query', (original) => original);
      expect(layer.query).toBe(handler);
      // the switch has the wrapper's arity (express reads it)
      expect(connection.query.length).toBe(1);

      expect(calls).toEqual([
        'query no span',
        'query unsampled',
        'span sampled',
        'query sampled',
        'span no span',
        'ping no span',
      ]);
    } finally {
      await recorder.stop();
    }
  });
});
