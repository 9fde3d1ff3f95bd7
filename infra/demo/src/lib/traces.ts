import type { Component, Stack } from '@stayline/stack-kit';

/** A span as the dashboard serves it (`/dashboard/trace-data/<id>`, apps/dashboard traces). */
export interface TraceSpan {
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
  durationMs: number;
  status: string;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
}

/** The stack's dashboard, which keeps the recent traces; undefined if the stack runs none. */
export function traceViewer(stack: Stack): Component | undefined {
  return stack.byKind('service').find((c) => c.meta?.service === 'dashboard');
}

/** The trace of a request through the gateway (its X-Request-Id); undefined until it has arrived. */
export async function fetchTrace(
  dashboard: Component,
  traceId: string,
): Promise<TraceSpan[] | undefined> {
  const res = await fetch(
    `http://${dashboard.host}:${dashboard.port}/dashboard/trace-data/${traceId}`,
  ).catch(() => undefined);
  if (res?.status !== 200) return undefined;
  return ((await res.json()) as { spans: TraceSpan[] }).spans;
}

/** The spans as an indented tree (they arrive parents first), each with its events, for the terminal. */
export function traceLines(spans: TraceSpan[], only?: (s: TraceSpan) => boolean): string[] {
  const depth = new Map<string, number>();
  const lines: string[] = [];
  for (const s of spans) {
    const parent = s.parentSpanId === undefined ? undefined : depth.get(s.parentSpanId);
    const d = parent === undefined ? 0 : parent + 1;
    depth.set(s.spanId, d);
    if (only && !only(s)) continue;
    const events = s.events.map((e) => {
      const attrs = Object.entries(e.attributes)
        .filter(([k]) => k !== 'stayline.dependency')
        .map(
          ([k, v]) =>
            `${k.replace(/^stayline\./, '')}=${Array.isArray(v) ? v.join('+') : String(v)}`,
        )
        .join(' ');
      return `${e.name}${attrs ? ` (${attrs})` : ''}`;
    });
    lines.push(
      `${'  '.repeat(d)}${s.service} · ${s.name} ${s.durationMs.toFixed(1)} ms${s.status === 'error' ? ' ERROR' : ''}` +
        (events.length ? `  [${events.join('; ')}]` : ''),
    );
  }
  return lines;
}
