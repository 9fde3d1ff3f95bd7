/**
 * What the libraries need of tracing: the OpenTelemetry API only. Without a
 * started SDK (`@stayline/observability/tracing`) every call here is a no-op on
 * a non-recording span, so a library pays next to nothing where tracing is off.
 * See docs/observability.md ("Traces").
 */
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';

/** The tracer every stayline span is made by (the instrumentations have their own). */
export function tracer() {
  return trace.getTracer('stayline');
}

/** Adds an event to the span of the running code (nothing when no span records). */
export function spanEvent(name: string, attributes?: Attributes): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.addEvent(name, attributes);
}

/** Sets attributes on the span of the running code (nothing when no span records). */
export function spanAttributes(attributes: Attributes): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttributes(attributes);
}

/**
 * Whether `ctx` carries a trace the gateway (or the caller) chose not to
 * sample: then no span is made under it, and the code runs in that context,
 * which passes the decision on to the next hop.
 */
function unsampled(ctx: Context): Span | undefined {
  const span = trace.getSpan(ctx);
  return span && (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0 ? span : undefined;
}

/** Options of {@link inSpan}. */
export interface InSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The parent (default: the running code's context). */
  parent?: Context;
  /**
   * Whether a thrown error marks the span as failed (default: yes). A client
   * error (the caller's 4xx) is recorded as an event but leaves the span OK.
   */
  isFailure?: (error: unknown) => boolean;
}

/**
 * Runs `fn` inside a new span (child of the running one), ends it when `fn`
 * settles, and records a thrown error on it. The span is `fn`'s active span, so
 * the instrumentations' spans and {@link spanEvent} land under it.
 */
export async function inSpan<T>(
  name: string,
  options: InSpanOptions,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const skipped = unsampled(parent);
  if (skipped) return options.parent ? context.with(parent, () => fn(skipped)) : fn(skipped);
  const span = tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    if (span.isRecording()) {
      const failed = options.isFailure ? options.isFailure(error) : true;
      const message = error instanceof Error ? error.message : String(error);
      span.addEvent('exception', {
        'exception.type': error instanceof Error ? error.name : typeof error,
        'exception.message': message,
      });
      if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message });
    }
    throw error;
  } finally {
    span.end();
  }
}

/** The W3C `traceparent` (and `tracestate`) of the running span, to carry in a message. */
export function injectTraceContext(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** The context a message's carried `traceparent` names (the running one if none or malformed). */
export function extractTraceContext(carrier: Record<string, unknown> | undefined): Context {
  if (!carrier) return context.active();
  const headers: Record<string, string> = {};
  for (const key of ['traceparent', 'tracestate'])
    if (typeof carrier[key] === 'string') headers[key] = carrier[key];
  return propagation.extract(context.active(), headers);
}

/**
 * Whether an HTTP request arrives with a valid `traceparent` whose caller (the
 * gateway) chose not to sample it, as the registered W3C propagator reads it
 * (none registered, tracing off: never). The SDK's http instrumentation leaves
 * such a request alone (no server span, no wrapped emitters), and
 * {@link runInCallersTrace} carries the caller's decision on instead.
 */
export function isUnsampledByCaller(headers: Record<string, unknown>): boolean {
  return unsampled(propagation.extract(ROOT_CONTEXT, headers)) !== undefined;
}

/**
 * Runs the rest of a request in its caller's unsampled trace when no span of
 * this process covers it ({@link isUnsampledByCaller}): the calls it makes then
 * carry the same trace id, still unsampled, and no hop records a span of it.
 * Otherwise (a span is running, or the request is sampled or has no
 * `traceparent`) `next` runs as it is.
 */
export function runInCallersTrace<T>(headers: Record<string, unknown>, next: () => T): T {
  if (trace.getActiveSpan() || !isUnsampledByCaller(headers)) return next();
  // from the root: the instrumentation runs an ignored request with tracing suppressed,
  // under which no traceparent would be injected into the calls it makes
  return context.with(propagation.extract(ROOT_CONTEXT, headers), next);
}

/** A span for a handled message: {@link ServerSpan.run} runs the handler inside it. */
export interface ServerSpan {
  run<T>(fn: () => T): T;
  /** Ends the span (once: later calls do nothing); given an error, records it (a client error leaves the span OK). */
  end(error?: unknown, isFailure?: boolean): void;
}

/**
 * Starts the server span of a message received over TCP, child of the span
 * the sender carried in its `traceparent` (a new trace if none).
 */
export function startServerSpan(
  name: string,
  carrier: Record<string, unknown> | undefined,
  attributes: Attributes,
): ServerSpan {
  const parent = extractTraceContext(carrier);
  if (unsampled(parent)) return { run: (fn) => context.with(parent, fn), end: () => undefined };
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  const active = trace.setSpan(parent, span);
  let ended = false;
  return {
    run: (fn) => context.with(active, fn),
    end: (error, isFailure = true) => {
      if (ended) return;
      ended = true;
      if (error !== undefined && span.isRecording()) {
        const message = error instanceof Error ? error.message : String(error);
        span.addEvent('exception', { 'exception.message': message });
        if (isFailure) span.setStatus({ code: SpanStatusCode.ERROR, message });
      }
      span.end();
    },
  };
}

/** `trace_id` and `span_id` of the running span, for a log line (none when it is not sampled). */
export function traceIdsOfRunningSpan(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  // 0x01: sampled; an unsampled trace is nowhere to be looked up
  if ((traceFlags & 1) !== 1) return undefined;
  return { trace_id: traceId, span_id: spanId };
}

export { SpanKind, SpanStatusCode };
