/**
 * The OpenTelemetry SDK of a service process: `import './tracing'` as the
 * FIRST import of its main (the instrumentations patch http, express, NestJS,
 * mysql2 and ioredis when they are loaded, so they must be in place before).
 *
 * Configured by the standard OpenTelemetry variables:
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (or `OTEL_EXPORTER_OTLP_ENDPOINT` +
 *   `/v1/traces`): where spans go, OTLP over HTTP (JSON). Unset: tracing is off.
 * - `OTEL_SDK_DISABLED=true`: off whatever else is set.
 * - `OTEL_TRACES_SAMPLER_ARG`: the share of traces a service starts that are
 *   kept, 0..1 (default 1). A request through the gateway carries nginx's
 *   decision (`STAYLINE_TRACE_SAMPLE` there) and every hop follows it.
 * - `OTEL_SERVICE_NAME` (default: the service's name); `INSTANCE_ID` names the instance.
 *
 * A trace starts only at a request (an HTTP or TCP server span): background
 * work (probes, polling, the lag monitor) makes no trace of its own.
 * See docs/observability.md ("Traces").
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
  type ReadableSpan,
  type Sampler,
  type SamplingResult,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';

/** What {@link tracingSettings} read from the environment. */
export interface TracingSettings {
  enabled: boolean;
  /** Where spans are posted (OTLP/HTTP JSON). */
  endpoint?: string;
  /** Share of the traces this process starts that are kept. */
  sampleRatio: number;
  serviceName: string;
  instanceId?: string;
}

/** Reads the settings; a malformed value is an error naming the variable (the process does not start). */
export function tracingSettings(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
): TracingSettings {
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
  const endpoint =
    env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim() ||
    (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint))
    throw new Error(`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: not an http(s) URL: ${endpoint}`);
  const rawRatio = env['OTEL_TRACES_SAMPLER_ARG']?.trim();
  const sampleRatio = rawRatio ? Number(rawRatio) : 1;
  if (!Number.isFinite(sampleRatio) || sampleRatio < 0 || sampleRatio > 1)
    throw new Error(`OTEL_TRACES_SAMPLER_ARG: a share between 0 and 1, not ${rawRatio}`);
  const disabled = env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true';
  return {
    enabled: !disabled && endpoint !== undefined,
    endpoint,
    sampleRatio,
    serviceName: env['OTEL_SERVICE_NAME']?.trim() || service,
    instanceId: env['INSTANCE_ID']?.trim() || undefined,
  };
}

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

/** Requests that are not the product's: probes and scrapes make no trace. */
const UNTRACED_PATHS = /^\/(health(\/|$)|metrics$|sd\/)/;

let started: { provider: TracerProvider; settings: TracingSettings } | undefined;

/**
 * Starts tracing for this process (once; later calls return the first result).
 * `processor` replaces the OTLP exporter (tests read spans in memory).
 */
export function startTracing(
  service: string,
  options: { env?: NodeJS.ProcessEnv; processor?: SpanProcessor } = {},
): TracingSettings {
  if (started) return started.settings;
  const settings = tracingSettings(service, options.env);
  if (!settings.enabled && !options.processor) return settings;
  const resource: Record<string, string> = { 'service.name': settings.serviceName };
  if (settings.instanceId) resource['service.instance.id'] = settings.instanceId;
  const provider = new TracerProvider({
    resource: resourceFromAttributes(resource),
    sampler: new RequestRootSampler(settings.sampleRatio),
    spanProcessors: [
      options.processor ??
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url: settings.endpoint, timeoutMillis: 5_000 }),
          // a trace is on the page about a second after its request
          scheduledDelayMillis: 1_000,
          maxExportBatchSize: 256,
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
  started = { provider, settings };
  // spans still queued leave with the process (a stop that waits for the handlers)
  process.once('beforeExit', () => void provider.shutdown().catch(() => undefined));
  return settings;
}

/** Sends the spans still queued (a test's, or a process about to exit). */
export async function flushTracing(): Promise<void> {
  await started?.provider.forceFlush();
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
