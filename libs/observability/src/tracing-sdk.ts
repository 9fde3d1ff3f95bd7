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
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { NestInstrumentation } from '@opentelemetry/instrumentation-nestjs-core';
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
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.test(req.url ?? ''),
        // outgoing HTTP (auth's keys, probes) is traced only inside a request
        requireParentforOutgoingSpans: true,
      }),
      // the route on the server span (`http.route`), no span per layer of the chain: the
      // controller's method is NestJS's span
      new ExpressInstrumentation({
        ignoreLayersType: [
          ExpressLayerType.MIDDLEWARE,
          ExpressLayerType.ROUTER,
          ExpressLayerType.REQUEST_HANDLER,
        ],
      }),
      new NestInstrumentation(),
      // statements with their values masked: no user's data in a span
      new MySQL2Instrumentation({ maskStatement: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
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
