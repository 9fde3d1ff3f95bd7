import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { tracingSettings } from './tracing';
import { PooledIdGenerator, RequestRootSampler } from './tracing-sdk';

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
