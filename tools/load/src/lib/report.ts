import { LATE_MS, type KindSummary, type LoadSummary, type Progress } from './open-load';

/** Milliseconds to 3 significant digits (`0.412`, `8.37`, `41.2`, `1203`); `-` when none. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (v >= 100) return String(Math.round(v));
  return v >= 10 ? v.toFixed(1) : v.toFixed(v >= 1 ? 2 : 3);
}

const rate = (v: number) => (v >= 100 ? String(Math.round(v)) : v.toFixed(1));

/** The live line: rate sent, percentiles so far, what failed. */
export function progressLine(p: Progress, intended: number): string {
  return (
    `${p.elapsedS.toFixed(0).padStart(4)} s  ${rate(p.rate)}/s of ${rate(intended)}  ` +
    `p50 ${ms(p.p50)} ms  p99 ${ms(p.p99)} ms  ok ${p.ok}  refused ${p.refused}  ` +
    `errors ${p.errors}  dropped ${p.dropped}  in flight ${p.inFlight}`
  );
}

function row(k: KindSummary): string[] {
  const l = k.latencyMs;
  return [
    k.kind,
    String(k.count),
    String(k.ok),
    String(k.refused),
    String(k.errors),
    String(k.dropped),
    ms(l.p50),
    ms(l.p90),
    ms(l.p99),
    ms(l.p999),
    ms(l.max),
    `${rate(k.achievedRate)} / ${rate(k.intendedRate)}`,
  ];
}

/** The summary table per kind and for all, then what the figures mean. */
export function summaryTable(s: LoadSummary): string {
  const header = [
    'KIND',
    'COUNT',
    'OK',
    'REFUSED',
    'ERRORS',
    'DROPPED',
    'P50',
    'P90',
    'P99',
    'P99.9',
    'MAX',
    'REQ/S SENT / INTENDED',
  ];
  const rows = [...s.kinds.filter((k) => k.count > 0).map(row), row(s.total)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const t = s.total;
  const out = [
    "latency in ms from each request's intended send time (corrected for coordinated omission)",
    '',
    line(header),
    ...rows.map(line),
    '',
    `service time (from the actual send, what a closed-model tool reports): p50 ${ms(t.serviceMs.p50)} ms, ` +
      `p99 ${ms(t.serviceMs.p99)} ms; sent more than ${LATE_MS} ms late: ${t.late} of ${t.count - t.dropped - t.skipped}`,
    `schedule: ${t.count} arrivals over ${s.windowS.toFixed(1)} s${s.stopped ? ' (stopped early)' : ''}`,
  ];
  if (t.skipped) out.push(`skipped (no booking of the run left to cancel): ${t.skipped}`);
  const reasons = s.kinds.flatMap((k) =>
    Object.entries(k.reasons).map(([r, n]) => `${k.kind} ${r}: ${n}`),
  );
  if (reasons.length) out.push(`refusals and errors: ${reasons.join(', ')}`);
  return out.join('\n');
}
