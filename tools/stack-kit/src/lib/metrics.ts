import type { Component } from './state';

/** One series of a Prometheus text exposition: its labels and value. */
export interface Series {
  labels: Record<string, string>;
  value: number;
}

/**
 * Reads the series of one metric from an instance's `GET /metrics` (its own
 * port: the gateway never routes it), e.g. the breaker state per endpoint
 * (`resilience_breaker_state`) or the charges a payment instance served.
 */
export async function scrapeMetric(c: Component, name: string): Promise<Series[]> {
  const res = await fetch(`http://${c.host}:${c.port}/metrics`, {
    signal: AbortSignal.timeout(3_000),
  });
  if (!res.ok) throw new Error(`${c.name} /metrics answered ${res.status}`);
  const series: Series[] = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    series.push({ labels, value: Number(m[3]) });
  }
  return series;
}

/** The sum of a metric's series whose labels include `match`. */
export async function metricSum(
  c: Component,
  name: string,
  match: Record<string, string> = {},
): Promise<number> {
  return (await scrapeMetric(c, name))
    .filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
