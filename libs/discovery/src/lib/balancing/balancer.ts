/**
 * Client-side load balancing (docs/patterns/load-balancing.md): the endpoints
 * of one service, a strategy that picks among them, the calls each one has
 * outstanding, and outlier ejection: an endpoint that fails `consecutiveFailures`
 * times in a row sits out a cool-down, then gets one trial call; a failed trial
 * ejects it again for twice as long (up to `maxCoolDownMs`).
 */
import { Clock, monotonicClock } from '@stayline/coordination';
import { EndpointGate } from './endpoint-gate';
import { PowerOfTwoStrategy } from './power-of-two.strategy';
import { RoundRobinStrategy } from './round-robin.strategy';
import { Endpoint, LoadBalancingStrategy, StrategyName } from './strategy';

export interface EjectionOptions {
  /** Failures in a row that eject an endpoint. Default 5. */
  consecutiveFailures?: number;
  /** First cool-down. Default 5000 ms. */
  coolDownMs?: number;
  /** Longest cool-down after repeated failed trials. Default 60000 ms. */
  maxCoolDownMs?: number;
  /** Never eject more than this share of the endpoints (the rest keep serving). Default 0.5. */
  maxEjectedRatio?: number;
}

export interface BalancerOptions {
  /** Default `round-robin` (the seed's). */
  strategy?: StrategyName | LoadBalancingStrategy;
  /** A per-endpoint breaker; replaces the built-in ejection. */
  gate?: EndpointGate;
  ejection?: EjectionOptions;
  clock?: Clock;
}

/** The strategies by name. */
export const STRATEGIES: Record<StrategyName, () => LoadBalancingStrategy> = {
  'round-robin': () => new RoundRobinStrategy(),
  'power-of-two': () => new PowerOfTwoStrategy(),
};

/** What the balancer knows of one endpoint (for health details and metrics). */
export interface EndpointStats {
  id: string;
  address: string;
  outstanding: number;
  consecutiveFailures: number;
  /** Milliseconds of cool-down left; 0 when not ejected. */
  ejectedForMs: number;
}

interface State {
  endpoint: Endpoint;
  outstanding: number;
  failures: number;
  ejectedUntil: number;
  ejections: number;
}

/** Reports how one call ended; `ok: false` counts against the endpoint. */
export type CallDone = (ok: boolean) => void;

export class Balancer {
  readonly strategy: LoadBalancingStrategy;
  private readonly states = new Map<string, State>();
  private candidates: Endpoint[] = [];
  private readonly clock: Clock;
  private readonly ejection: Required<EjectionOptions>;

  constructor(private readonly options: BalancerOptions = {}) {
    const s = options.strategy ?? 'round-robin';
    this.strategy = typeof s === 'string' ? STRATEGIES[s]() : s;
    this.clock = options.clock ?? monotonicClock;
    this.ejection = {
      consecutiveFailures: options.ejection?.consecutiveFailures ?? 5,
      coolDownMs: options.ejection?.coolDownMs ?? 5_000,
      maxCoolDownMs: options.ejection?.maxCoolDownMs ?? 60_000,
      maxEjectedRatio: options.ejection?.maxEjectedRatio ?? 0.5,
    };
  }

  /** Replaces the endpoint list (from discovery); the state of endpoints that stay is kept. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    const next = new Map<string, State>();
    for (const endpoint of endpoints) {
      const old = this.states.get(endpoint.id);
      next.set(
        endpoint.id,
        old
          ? { ...old, endpoint }
          : { endpoint, outstanding: 0, failures: 0, ejectedUntil: 0, ejections: 0 },
      );
    }
    this.states.clear();
    for (const [id, st] of next) this.states.set(id, st);
    this.candidates = [...endpoints];
  }

  get endpoints(): readonly Endpoint[] {
    return this.candidates;
  }

  endpoint(id: string): Endpoint | undefined {
    return this.states.get(id)?.endpoint;
  }

  /**
   * Picks an endpoint for the next call, leaving out `exclude` (tried already),
   * ejected endpoints and those the gate refuses. Undefined when none is left.
   * (Structurally a resilience `EndpointSelector`.)
   */
  pick(exclude?: ReadonlySet<string>): string | undefined {
    const now = this.clock.now();
    const pool = this.candidates.filter((e) => !exclude?.has(e.id) && this.admits(e.id, now));
    if (pool.length === 0) return undefined;
    return this.strategy.pick(pool, (id) => this.states.get(id)?.outstanding ?? 0).id;
  }

  /** Marks a call to `endpointId` as started; call the returned function when it ends. */
  begin(endpointId: string): CallDone {
    const st = this.states.get(endpointId);
    const started = this.clock.now();
    if (st) st.outstanding += 1;
    return (ok) => {
      if (st) st.outstanding -= 1;
      const latency = this.clock.now() - started;
      if (this.options.gate) this.options.gate.onResult?.(endpointId, ok, latency);
      else if (st && this.states.get(endpointId) === st) this.record(st, ok);
    };
  }

  stats(): EndpointStats[] {
    const now = this.clock.now();
    return [...this.states.values()].map((st) => ({
      id: st.endpoint.id,
      address: `${st.endpoint.host}:${st.endpoint.port}`,
      outstanding: st.outstanding,
      consecutiveFailures: st.failures,
      ejectedForMs: Math.max(0, st.ejectedUntil - now),
    }));
  }

  private admits(id: string, now: number): boolean {
    const gate = this.options.gate;
    return gate ? gate.isCallPermitted(id) : (this.states.get(id)?.ejectedUntil ?? 0) <= now;
  }

  private record(st: State, ok: boolean): void {
    if (ok) {
      st.failures = 0;
      st.ejections = 0;
      return;
    }
    st.failures += 1;
    const now = this.clock.now();
    if (st.ejectedUntil > now) return; // calls sent before the ejection, ending now
    // back from a cool-down, one failed trial is enough to go out again
    const trialFailed = st.ejections > 0 && st.ejectedUntil <= now;
    if ((trialFailed || st.failures >= this.ejection.consecutiveFailures) && this.mayEject(now)) {
      const coolDown = Math.min(
        this.ejection.coolDownMs * 2 ** st.ejections,
        this.ejection.maxCoolDownMs,
      );
      st.ejectedUntil = now + coolDown;
      st.ejections += 1;
    }
  }

  private mayEject(now: number): boolean {
    const ejected = [...this.states.values()].filter((s) => s.ejectedUntil > now).length;
    return (
      ejected + 1 <= Math.max(1, Math.floor(this.states.size * this.ejection.maxEjectedRatio)) &&
      ejected + 1 < this.states.size
    );
  }
}
