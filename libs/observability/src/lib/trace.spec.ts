import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { recordSpansInMemory } from '../tracing-sdk';
import { suppressTracing } from '@opentelemetry/core';
import {
  injectTraceContext,
  inSpan,
  isUnsampledByCaller,
  runInCallersTrace,
  startServerSpan,
} from './trace';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const traceparent = (flags: string) => `00-${TRACE_ID}-b7ad6b7169203331-${flags}`;

describe('spans under an unsampled trace', () => {
  let recorder: ReturnType<typeof recordSpansInMemory>;
  beforeEach(() => (recorder = recordSpansInMemory()));
  afterEach(() => recorder.stop());

  it('inSpan makes no span and runs in the caller’s context, which carries the decision on', async () => {
    const unsampled = trace.setSpan(
      ROOT_CONTEXT,
      trace.wrapSpanContext({
        traceId: TRACE_ID,
        spanId: 'b7ad6b7169203331',
        traceFlags: TraceFlags.NONE,
      }),
    );
    const carried = await context.with(unsampled, () =>
      inSpan('payment charge', {}, async (span) => {
        expect(span.isRecording()).toBe(false);
        return injectTraceContext();
      }),
    );
    expect(carried['traceparent']).toBe(traceparent('00'));
    expect(recorder.spans()).toHaveLength(0);
  });

  it('a message carrying an unsampled traceparent gets no server span; a sampled one does', async () => {
    const quiet = startServerSpan('payment.charge', { traceparent: traceparent('00') }, {});
    expect(quiet.run(() => injectTraceContext())['traceparent']).toBe(traceparent('00'));
    quiet.end(new Error('ignored'));

    const kept = startServerSpan('payment.charge', { traceparent: traceparent('01') }, {});
    await kept.run(() => inSpan('ledger write', { kind: SpanKind.CLIENT }, async () => undefined));
    kept.end();
    const spans = recorder.spans();
    expect(spans.map((s) => s.name).sort()).toEqual(['ledger write', 'payment.charge']);
    for (const s of spans) expect(s.spanContext().traceId).toBe(TRACE_ID);
    const server = spans.find((s) => s.name === 'payment.charge');
    expect(server?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });
});

describe('a request the gateway did not sample', () => {
  it('is told by a valid traceparent whose sampled flag is off', async () => {
    // the propagator the SDK registers reads the header
    const recorder = recordSpansInMemory();
    try {
      expect(isUnsampledByCaller({ traceparent: traceparent('00') })).toBe(true);
      expect(isUnsampledByCaller({ traceparent: traceparent('02') })).toBe(true);
      expect(isUnsampledByCaller({ traceparent: traceparent('01') })).toBe(false);
      expect(isUnsampledByCaller({})).toBe(false);
      expect(isUnsampledByCaller({ traceparent: `00-${TRACE_ID}-b7ad6b71692033-00` })).toBe(false);
      expect(isUnsampledByCaller({ traceparent: ['a', 'b'] })).toBe(false);
    } finally {
      await recorder.stop();
    }
    // no propagator registered (tracing off): never
    expect(isUnsampledByCaller({ traceparent: traceparent('00') })).toBe(false);
  });

  it("runs in the caller's trace, even where the instrumentation suppressed tracing, so its calls carry the decision", async () => {
    const recorder = recordSpansInMemory();
    try {
      // what the http instrumentation does with a request it ignores
      const carried = context.with(suppressTracing(ROOT_CONTEXT), () =>
        runInCallersTrace({ traceparent: traceparent('00') }, () => injectTraceContext()),
      );
      expect(carried['traceparent']).toBe(traceparent('00'));
      // sampled, or no traceparent: left as it is (the instrumentation's server span covers it)
      expect(
        runInCallersTrace({ traceparent: traceparent('01') }, () => injectTraceContext()),
      ).toEqual({});
      expect(runInCallersTrace({}, () => 'next')).toBe('next');
      expect(recorder.spans()).toHaveLength(0);
    } finally {
      await recorder.stop();
    }
  });
});
