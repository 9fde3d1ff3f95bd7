import type { BreakerStateName, BreakerView, InstanceHealth } from '../topology/snapshot';

/** What one `/health/ready` answer says about an instance and its breakers. */
export interface InstanceHealthReport {
  health: InstanceHealth;
  inFlight?: number;
  /** The instance's counters of finished and failed requests (absent from older builds). */
  completed?: number;
  failed?: number;
  /** When the answer arrived (`performance.now()`): what the rates divide by. */
  atMs?: number;
  breakers: BreakerView[];
  error?: string;
}

interface Indicator {
  status?: string;
  inFlight?: unknown;
  completed?: unknown;
  failed?: unknown;
  essential?: unknown;
  state?: unknown;
  retryAfterMs?: unknown;
  endpoints?: Record<string, { state?: unknown; reason?: unknown; retryAfterMs?: unknown }>;
  error?: unknown;
}

const STATES: readonly BreakerStateName[] = ['closed', 'open', 'half-open'];
const asState = (v: unknown): BreakerStateName | undefined => STATES.find((s) => s === v);
const asNumber = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Reads a service's readiness answer (terminus's `{ status, details }`, see
 * libs/observability): `ok` is up, `degraded` still serves (a breaker not
 * closed, a replica lagging), anything else is down. The `discovery` detail
 * carries the in-flight count (libs/discovery), which includes the probe
 * itself, and the counters of finished and failed requests, which do not; each `dependency:<name>` detail one breaker per dependency and per
 * callee instance (libs/resilience `dependencyHealth`).
 */
export function parseInstanceHealth(
  caller: string,
  httpStatus: number,
  body: unknown,
): InstanceHealthReport {
  const b = (body ?? {}) as { status?: unknown; details?: Record<string, Indicator> };
  const details = b.details ?? {};
  const health: InstanceHealth =
    httpStatus === 200 && b.status === 'ok'
      ? 'up'
      : httpStatus === 200 && b.status === 'degraded'
        ? 'degraded'
        : 'down';
  const discovery = details['discovery'];
  const inFlight = asNumber(discovery?.inFlight);
  const breakers: BreakerView[] = [];
  for (const [name, d] of Object.entries(details)) {
    if (!name.startsWith('dependency:')) continue;
    const dependency = name.slice('dependency:'.length);
    const essential = typeof d.essential === 'boolean' ? d.essential : undefined;
    const whole = asState(d.state);
    if (whole)
      breakers.push({
        caller,
        dependency,
        endpoint: '*',
        state: whole,
        essential,
        retryAfterMs: asNumber(d.retryAfterMs) || undefined,
      });
    for (const [endpoint, e] of Object.entries(d.endpoints ?? {})) {
      const state = asState(e.state);
      if (!state) continue;
      breakers.push({
        caller,
        dependency,
        endpoint,
        state,
        essential,
        retryAfterMs: asNumber(e.retryAfterMs),
        reason: typeof e.reason === 'string' ? e.reason : undefined,
      });
    }
  }
  const down = Object.entries(details)
    .filter(([, d]) => d.status === 'down')
    .map(([n]) => n);
  return {
    health,
    inFlight: inFlight === undefined ? undefined : Math.max(0, inFlight - 1),
    completed: asNumber(discovery?.completed),
    failed: asNumber(discovery?.failed),
    breakers,
    error:
      health === 'down'
        ? down.length
          ? `down: ${down.join(', ')}`
          : `health answered ${httpStatus}`
        : undefined,
  };
}
