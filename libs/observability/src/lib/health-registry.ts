/** How a part of the process feels: `degraded` still serves (HTTP 200) but says so. */
export type HealthStatus = 'up' | 'degraded' | 'down';

/** One indicator's answer. */
export interface HealthReport {
  status: HealthStatus;
  details?: Record<string, unknown>;
}

/** A named check a library contributes; it may be async and may throw (reads as `down`). */
export type HealthIndicator = () => Promise<HealthReport> | HealthReport;

/** Liveness: restart me if down. Readiness: do not send me traffic if down. */
export type HealthProbe = 'liveness' | 'readiness';

/** Every indicator's report and the worst of them. */
export interface HealthSummary {
  status: HealthStatus;
  checks: Record<string, HealthReport>;
}

const severity: Record<HealthStatus, number> = { up: 0, degraded: 1, down: 2 };

/** The worst of the given statuses (`up` when there are none). */
export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
  let worst: HealthStatus = 'up';
  for (const s of statuses) if (severity[s] > severity[worst]) worst = s;
  return worst;
}

interface Entry {
  indicator: HealthIndicator;
  probe: HealthProbe;
}

/**
 * Where libraries register named health indicators, read by the health
 * endpoints. An indicator that hangs or throws reports `down` rather than
 * hanging the probe.
 */
export class HealthRegistry {
  private readonly entries = new Map<string, Entry>();

  /** @param checkTimeoutMs how long one indicator may take before it counts as down */
  constructor(private readonly checkTimeoutMs = 1000) {}

  /**
   * Adds (or replaces) the indicator `name` for the given probe (readiness by
   * default). Returns a function that removes it.
   */
  register(name: string, indicator: HealthIndicator, probe: HealthProbe = 'readiness'): () => void {
    const entry = { indicator, probe };
    this.entries.set(name, entry);
    return () => {
      if (this.entries.get(name) === entry) this.entries.delete(name);
    };
  }

  /** Runs the indicators of one probe (all of them when omitted) concurrently. */
  async check(probe?: HealthProbe): Promise<HealthSummary> {
    const selected = [...this.entries].filter(([, e]) => probe === undefined || e.probe === probe);
    const reports = await Promise.all(selected.map(([, e]) => this.run(e.indicator)));
    const checks: Record<string, HealthReport> = {};
    selected.forEach(([name], i) => (checks[name] = reports[i]));
    return { status: worstStatus(reports.map((r) => r.status)), checks };
  }

  private async run(indicator: HealthIndicator): Promise<HealthReport> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<HealthReport>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            status: 'down',
            details: { error: `no answer within ${this.checkTimeoutMs} ms` },
          }),
        this.checkTimeoutMs,
      );
      timer.unref();
    });
    try {
      return await Promise.race([Promise.resolve().then(indicator), timedOut]);
    } catch (err) {
      return {
        status: 'down',
        details: { error: err instanceof Error ? err.message : String(err) },
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The process's shared registry: libraries register here, the health endpoints read it. */
export const healthRegistry = new HealthRegistry();
