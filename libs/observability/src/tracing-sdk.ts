/**
 * The OpenTelemetry SDK itself, loaded by `./tracing` only when tracing is on
 * (its modules take about half a second to load: a service with tracing off
 * does not pay it). See `./tracing` for the settings.
 */
import {
  context,
  propagation,
  SpanKind,
  trace,
  type Attributes,
  type Context,
  type Link,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { type InstrumentationBase, registerInstrumentations } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  SimpleSpanProcessor,
  TracerProvider,
  type IdGenerator,
  type ReadableSpan,
  type Sampler,
  type SamplingResult,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';

import { randomBytes } from 'node:crypto';
import { isUnsampledByCaller } from './lib/trace';
import type { TracingSettings } from './tracing';

/**
 * Keeps a trace only when it starts at a request: a span with no parent is
 * sampled (by ratio) if it is a server span, dropped otherwise; a span with a
 * parent follows the parent's decision.
 */
export class RequestRootSampler implements Sampler {
  private readonly inner: Sampler;

  constructor(ratio: number) {
    this.inner = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }

  shouldSample(
    ctx: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    const hasParent = trace.getSpanContext(ctx) !== undefined;
    if (!hasParent && kind !== SpanKind.SERVER && kind !== SpanKind.CONSUMER)
      return { decision: SamplingDecision.NOT_RECORD };
    return this.inner.shouldSample(ctx, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `RequestRootSampler{${this.inner.toString()}}`;
  }
}

/**
 * Trace and span ids from a pool of random bytes refilled 4 KiB at a time
 * (the SDK's default draws Math.random once per byte of every id, a share of a
 * request's CPU a profile shows). An all-zero id is invalid: drawn again.
 */
export class PooledIdGenerator implements IdGenerator {
  private pool = Buffer.alloc(0);
  private at = 0;

  generateTraceId(): string {
    return this.take(16);
  }

  generateSpanId(): string {
    return this.take(8);
  }

  private take(bytes: number): string {
    for (;;) {
      if (this.at + bytes > this.pool.length) {
        this.pool = randomBytes(4096);
        this.at = 0;
      }
      const id = this.pool.toString('hex', this.at, this.at + bytes);
      this.at += bytes;
      if (!/^0+$/.test(id)) return id;
    }
  }
}

/**
 * Makes an instrumentation's wrappers of `methods` run only while the running
 * code's span records (a sampled request); otherwise the original method runs
 * as if it were not instrumented.
 *
 * Why: an instrumentation's wrapper costs the same whether its span will be
 * kept or not. mysql2's, per statement, builds the attributes, masks the
 * statement, starts a span and wraps the callback (`shimmer.wrap`, an
 * `Object.defineProperty`): in a request nginx did not sample, and in
 * background work, all of it for a span the sampler then drops. With 16 of a
 * booking's 22 spans statements, that was most of what tracing cost a booking
 * it did not keep (docs/performance.md, "Cost of observability").
 *
 * How: the instrumentation wraps through its `_wrap` (shimmer's `wrap`, a
 * protected field of `InstrumentationBase`); this hooks it before the module is
 * patched and puts a switch between the original and the wrapped method.
 * `isWrapped`, `_unwrap` and `disable()` keep working (shimmer marks the switch).
 */
export function onlyWhileRecording<T extends InstrumentationBase>(
  instrumentation: T,
  methods: readonly string[],
): T {
  type Wrap = (
    nodule: object,
    name: PropertyKey,
    wrapper: (original: unknown, name: PropertyKey) => unknown,
  ) => unknown;
  const target = instrumentation as unknown as { _wrap: Wrap };
  const wrap = target._wrap.bind(instrumentation);
  target._wrap = (nodule, name, wrapper) =>
    typeof name === 'string' && methods.includes(name)
      ? wrap(nodule, name, (original, n) => {
          const wrapped = wrapper(original, n);
          if (
            typeof original !== 'function' ||
            typeof wrapped !== 'function' ||
            wrapped === original
          )
            return wrapped;
          return switchOnRecording(original as Method, wrapped as Method);
        })
      : wrap(nodule, name, wrapper);
  return instrumentation;
}

type Method = (...args: unknown[]) => unknown;

/**
 * The switch: `wrapped` in a recording span, `original` otherwise. It looks
 * like `wrapped` to its callers: the same `length` (express tells an error
 * handler by its four parameters) and the same own properties.
 */
function switchOnRecording(original: Method, wrapped: Method): Method {
  const switched = function (this: unknown, ...args: unknown[]): unknown {
    return trace.getActiveSpan()?.isRecording()
      ? wrapped.apply(this, args)
      : original.apply(this, args);
  };
  Object.defineProperty(switched, 'length', { value: wrapped.length });
  for (const key of Object.keys(wrapped))
    Object.defineProperty(switched, key, {
      get: () => (wrapped as unknown as Record<string, unknown>)[key],
      set: (value: unknown) => ((wrapped as unknown as Record<string, unknown>)[key] = value),
    });
  return switched;
}

/** Requests that are not the product's: probes and scrapes make no trace. */
const UNTRACED_PATHS = /^\/(health|metrics|sd)(\/|\?|$)/;

/** Registers the provider, the context manager, the propagator and the instrumentations. */
export function startSdk(settings: TracingSettings, processor?: SpanProcessor): TracerProvider {
  const resource: Record<string, string> = { 'service.name': settings.serviceName };
  if (settings.instanceId) resource['service.instance.id'] = settings.instanceId;
  const provider = new TracerProvider({
    resource: resourceFromAttributes(resource),
    sampler: new RequestRootSampler(settings.sampleRatio),
    idGenerator: new PooledIdGenerator(),
    spanProcessors: [
      processor ??
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url: settings.endpoint, timeoutMillis: 5_000 }),
          // a trace is on the page a second or two after its request; fewer, larger exports
          scheduledDelayMillis: 2_000,
          maxExportBatchSize: 512,
          maxQueueSize: 4_096,
        }),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager();
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        // a request the gateway did not sample makes no server span here: the request-id
        // middleware runs it in the caller's trace, which passes the decision on
        // (runInCallersTrace), without the instrumentation's cost per request
        ignoreIncomingRequestHook: (req) =>
          UNTRACED_PATHS.test(req.url ?? '') || isUnsampledByCaller(req.headers),
        // outgoing HTTP (auth's keys, probes) is traced only inside a request
        requireParentforOutgoingSpans: true,
      }),
      // the route on the server span (`http.route`), no span per layer of the chain; each
      // layer's wrapper only in a sampled request (it names the route of a recorded span).
      // No NestJS instrumentation: its two spans per request (the controller, the handler)
      // repeat the server span's route, and it wraps every handler in one more async
      // function, sampled or not
      onlyWhileRecording(
        new ExpressInstrumentation({
          ignoreLayersType: [
            ExpressLayerType.MIDDLEWARE,
            ExpressLayerType.ROUTER,
            ExpressLayerType.REQUEST_HANDLER,
          ],
        }),
        ['handle'],
      ),
      // statements with their values masked: no user's data in a span; a statement or a
      // Redis command is a span only inside a sampled request
      onlyWhileRecording(new MySQL2Instrumentation({ maskStatement: true }), ['query', 'execute']),
      onlyWhileRecording(new IORedisInstrumentation({ requireParentSpan: true }), ['sendCommand']),
    ],
  });
  // spans still queued leave with the process (a stop that waits for the handlers)
  process.once('beforeExit', () => void provider.shutdown().catch(() => undefined));
  return provider;
}

/**
 * For tests: registers a tracer provider that keeps every span in memory (no
 * instrumentation, no export), with the same context manager and propagator
 * as {@link startTracing}. `stop()` unregisters it.
 */
export function recordSpansInMemory(): {
  spans: () => ReadableSpan[];
  reset: () => void;
  stop: () => Promise<void>;
} {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler: new RequestRootSampler(1),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    stop: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
