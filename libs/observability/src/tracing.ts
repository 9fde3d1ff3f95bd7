/**
 * The OpenTelemetry SDK of a service process: `import './tracing'` as the
 * FIRST import of its main (the instrumentations patch http, express, mysql2
 * and ioredis when they are loaded, so they must be in place before).
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
 * See docs/tracing.md.
 */
import type { SpanProcessor } from '@opentelemetry/sdk-trace';

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

type Sdk = typeof import('./tracing-sdk');
/** The SDK's module, loaded on first use: a process with tracing off never loads it. */
const sdk = (): Sdk => require('./tracing-sdk') as Sdk;

let started: { settings: TracingSettings; flush: () => Promise<void> } | undefined;

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
  const provider = sdk().startSdk(settings, options.processor);
  started = { settings, flush: () => provider.forceFlush() };
  return settings;
}

/** Sends the spans still queued (a test's, or a process about to exit). */
export async function flushTracing(): Promise<void> {
  await started?.flush();
}

/**
 * For tests: a tracer provider that keeps every span in memory (no
 * instrumentation, no export). `stop()` unregisters it.
 */
export function recordSpansInMemory(): ReturnType<Sdk['recordSpansInMemory']> {
  return sdk().recordSpansInMemory();
}
