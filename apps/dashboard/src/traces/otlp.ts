/**
 * Reads an OTLP/HTTP JSON export (`ExportTraceServiceRequest`, what
 * `@opentelemetry/exporter-trace-otlp-http` posts to `/v1/traces`) into flat
 * spans. Ids arrive as hex (the JS exporter) or base64 (the protobuf JSON
 * mapping, other SDKs); times as nanosecond strings or numbers.
 * See https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding.
 */

/** An attribute value as the page shows it. */
export type AttributeValue = string | number | boolean | AttributeValue[];

export interface SpanEventRecord {
  name: string;
  /** Milliseconds since the epoch (fractional). */
  timeMs: number;
  attributes: Record<string, AttributeValue>;
}

export type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** One span, as stored and served. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: SpanKindName;
  /** `service.name` of the process that made it. */
  service: string;
  /** `service.instance.id`, when the process set one. */
  instance?: string;
  /** The instrumentation that made it (`@opentelemetry/instrumentation-mysql2`, `stayline`). */
  scope: string;
  startMs: number;
  durationMs: number;
  status: 'unset' | 'ok' | 'error';
  statusMessage?: string;
  attributes: Record<string, AttributeValue>;
  events: SpanEventRecord[];
}

/** A body that is not an OTLP export. */
export class OtlpFormatError extends Error {
  override readonly name = 'OtlpFormatError';
}

const KINDS: Record<number, SpanKindName> = {
  1: 'internal',
  2: 'server',
  3: 'client',
  4: 'producer',
  5: 'consumer',
};
const STATUS: Record<number, SpanRecord['status']> = { 0: 'unset', 1: 'ok', 2: 'error' };

/**
 * What one span may carry here: the receiver is not routed by the gateway, but any
 * process on the network may post to it, so a span is cut to a size the page and the
 * store can hold (beyond: truncated, marked `…`).
 */
export const SPAN_LIMITS = {
  /** Characters of a name, key, string value or status message. */
  text: 1_024,
  /** Attributes per span or event, events per span, items per array. */
  items: 128,
  /** Arrays within arrays: deeper ones are shown as a string. */
  depth: 3,
  /** How far from now a span may have started: an absurd clock is refused. */
  clockSkewMs: 7 * 86_400_000,
} as const;

type Json = Record<string, unknown>;
const cut = (v: string) => (v.length > SPAN_LIMITS.text ? `${v.slice(0, SPAN_LIMITS.text)}…` : v);
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const array = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Hex id of `bytes` length: hex as is (lower-cased), base64 decoded; undefined if neither. */
function id(value: unknown, bytes: number): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(value)) return value.toLowerCase();
  const decoded = Buffer.from(value, 'base64');
  return decoded.length === bytes ? decoded.toString('hex') : undefined;
}

/** Nanoseconds (string, number, or {low, high}) as fractional milliseconds. */
function millis(value: unknown): number {
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(BigInt(value) / 1000n) / 1000;
  if (typeof value === 'number' && Number.isFinite(value)) return value / 1e6;
  if (isObject(value) && typeof value['low'] === 'number' && typeof value['high'] === 'number')
    return ((value['high'] >>> 0) * 2 ** 32 + (value['low'] >>> 0)) / 1e6;
  return NaN;
}

function anyValue(value: unknown, depth = 0): AttributeValue {
  if (!isObject(value)) return '';
  if (typeof value['stringValue'] === 'string') return cut(value['stringValue']);
  if (typeof value['boolValue'] === 'boolean') return value['boolValue'];
  if (value['intValue'] !== undefined) return Number(value['intValue']);
  if (typeof value['doubleValue'] === 'number') return value['doubleValue'];
  if (isObject(value['arrayValue'])) {
    if (depth >= SPAN_LIMITS.depth) return '[nested too deep]';
    return array(value['arrayValue']['values'])
      .slice(0, SPAN_LIMITS.items)
      .map((v) => anyValue(v, depth + 1));
  }
  return '';
}

function attributes(list: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of array(list).slice(0, SPAN_LIMITS.items))
    if (isObject(kv) && typeof kv['key'] === 'string') out[cut(kv['key'])] = anyValue(kv['value']);
  return out;
}

/**
 * The spans of one export. A span without valid ids or times is skipped
 * (counted in `rejected`, the OTLP partial-success figure); a body that is not
 * an export at all is an {@link OtlpFormatError}.
 */
export function readOtlpTraces(body: unknown): { spans: SpanRecord[]; rejected: number } {
  if (!isObject(body) || !Array.isArray(body['resourceSpans']))
    throw new OtlpFormatError('not an OTLP trace export: no resourceSpans array');
  const spans: SpanRecord[] = [];
  let rejected = 0;
  for (const rs of body['resourceSpans']) {
    if (!isObject(rs)) continue;
    const resource = attributes(isObject(rs['resource']) ? rs['resource']['attributes'] : []);
    const service =
      typeof resource['service.name'] === 'string' ? resource['service.name'].slice(0, 128) : '?';
    const instance =
      typeof resource['service.instance.id'] === 'string'
        ? resource['service.instance.id'].slice(0, 128)
        : undefined;
    for (const ss of array(rs['scopeSpans'])) {
      if (!isObject(ss)) continue;
      const scope =
        isObject(ss['scope']) && typeof ss['scope']['name'] === 'string' ? ss['scope']['name'] : '';
      for (const s of array(ss['spans'])) {
        const span = isObject(s) ? readSpan(s, service, instance, scope) : undefined;
        if (span) spans.push(span);
        else rejected++;
      }
    }
  }
  return { spans, rejected };
}

function readSpan(
  s: Json,
  service: string,
  instance: string | undefined,
  scope: string,
): SpanRecord | undefined {
  const traceId = id(s['traceId'], 16);
  const spanId = id(s['spanId'], 8);
  const startMs = millis(s['startTimeUnixNano']);
  const endMs = millis(s['endTimeUnixNano']);
  if (!traceId || !spanId || !Number.isFinite(startMs) || !Number.isFinite(endMs)) return undefined;
  // a clock this far off is not a span to draw (and would break the dates of its trace)
  if (endMs < startMs || Math.abs(startMs - Date.now()) > SPAN_LIMITS.clockSkewMs) return undefined;
  const status = isObject(s['status']) ? s['status'] : {};
  return {
    traceId,
    spanId,
    parentSpanId: id(s['parentSpanId'], 8),
    name: typeof s['name'] === 'string' ? cut(s['name']) : '',
    kind: KINDS[Number(s['kind'])] ?? 'internal',
    service,
    instance,
    scope,
    startMs,
    durationMs: Math.max(0, endMs - startMs),
    status: STATUS[Number(status['code'] ?? 0)] ?? 'unset',
    statusMessage:
      typeof status['message'] === 'string' && status['message'] ? status['message'] : undefined,
    attributes: attributes(s['attributes']),
    events: array(s['events'])
      .slice(0, SPAN_LIMITS.items)
      .filter(isObject)
      .map((e) => ({
        name: typeof e['name'] === 'string' ? cut(e['name']) : '',
        timeMs: millis(e['timeUnixNano']),
        attributes: attributes(e['attributes']),
      })),
  };
}
