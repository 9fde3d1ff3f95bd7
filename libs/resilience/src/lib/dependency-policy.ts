/**
 * Circuit breakers per dependency: see docs/patterns/circuit-breaker.md.
 *
 * A DependencyPolicy guards every call from this process to one dependency
 * (`payment`): a bulkhead caps the calls in flight, each attempt goes to an
 * endpoint whose breaker admits it and carries a timeout (inside the breaker,
 * so a timeout counts as a failure), safe calls are retried on another
 * endpoint, and a failure ends as a ResilienceError, or as the fallback's
 * Degraded answer for a non-essential dependency. The dependency is open when
 * every endpoint's breaker is. cockatiel provides the policies; this class
 * composes them in that order.
 */
import {
  BulkheadPolicy,
  EventEmitter,
  bulkhead,
  isBulkheadRejectedError,
  type IDisposable,
} from 'cockatiel';
import {
  createLogger,
  healthRegistry,
  inSpan,
  spanEvent,
  SpanKind,
  type HealthRegistry,
} from '@stayline/observability';
import type { Logger } from 'pino';
import { BreakerState, type BreakerSnapshot } from './breaker-state';
import { AttemptTimeout } from './attempt-timeout';
import type { Attempt, CallOptions } from './call-options';
import { CircuitBreaker, isCancellation } from './circuit-breaker';
import { isClientError } from './client-error';
import type { CallOutcome, Fallback } from './degraded';
import type { DependencyBreaker, DependencySnapshot, EndpointSelector } from './dependency-breaker';
import { dependencyHealth } from './dependency-health';
import {
  resolveDependencyConfig,
  type DependencyConfig,
  type ResolvedDependencyConfig,
} from './dependency-options';
import { DependencyTelemetry, type DependencyTransition } from './dependency-telemetry';
import {
  BreakerOpenError,
  BulkheadRejectedError,
  DependencyUnavailableError,
  NoEndpointError,
  ResilienceError,
} from './errors';
import { retryElsewhere } from './retry-elsewhere';

/** Config plus collaborators of {@link DependencyPolicy.create}. */
export interface DependencyPolicyOptions extends DependencyConfig {
  /** Chooses endpoints; without one the dependency has one endpoint, `default`. */
  readonly selector?: EndpointSelector;
  /** Where state changes are logged. Default: a logger for service `resilience`. */
  readonly logger?: Logger;
  /** Where the health indicator goes (`false`: nowhere). Default: the shared registry. */
  readonly health?: HealthRegistry | false;
  /** Randomness for the reset-timeout jitter. */
  readonly random?: () => number;
}

/** The endpoint id used when no selector is set. */
export const SINGLE_ENDPOINT = 'default';

let defaultLogger: Logger | undefined;

/** Timeout, breakers per endpoint, retries, bulkhead and fallback for one dependency. */
export class DependencyPolicy implements DependencyBreaker {
  /** Validates the options (throws on bad ones) and builds the policy. */
  static create(options: DependencyPolicyOptions): DependencyPolicy {
    return new DependencyPolicy(options);
  }

  /** The validated configuration, defaults filled in. */
  readonly config: ResolvedDependencyConfig;
  private readonly breakers = new Map<
    string,
    { breaker: CircuitBreaker; subscription: IDisposable }
  >();
  private readonly bulkhead: BulkheadPolicy;
  private readonly timeouts: AttemptTimeout;
  private readonly lifetime = new AbortController();
  private readonly transitions = new EventEmitter<DependencyTransition>();
  private readonly telemetry: DependencyTelemetry;
  private readonly unregisterHealth: () => void;
  private selector: EndpointSelector | undefined;
  private current = BreakerState.Closed;

  /** @inheritdoc */
  readonly onStateChange = this.transitions.addListener;

  private constructor(private readonly options: DependencyPolicyOptions) {
    this.config = resolveDependencyConfig(options);
    this.selector = options.selector;
    this.bulkhead = bulkhead(this.config.bulkhead.maxConcurrent, this.config.bulkhead.maxQueue);
    this.timeouts = new AttemptTimeout(this.name);
    const logger = options.logger ?? (defaultLogger ??= createLogger({ service: 'resilience' }));
    this.telemetry = new DependencyTelemetry(this.name, logger);
    const health = options.health ?? healthRegistry;
    this.unregisterHealth = health
      ? health.register(`dependency:${this.name}`, dependencyHealth(this))
      : () => undefined;
    logger.info({ resilience: this.config }, `resilience policy for ${this.name}`);
  }

  /** The dependency's name. */
  get name(): string {
    return this.config.name;
  }

  /** Whether failures fail fast (503) rather than degrade to a fallback. */
  get essential(): boolean {
    return this.config.essential;
  }

  /** @inheritdoc */
  get state(): BreakerState {
    return this.current;
  }

  /** @inheritdoc */
  retryAfterMs(): number {
    if (this.current !== BreakerState.Open) return 0;
    return Math.min(...[...this.breakers.values()].map(({ breaker }) => breaker.retryAfterMs()));
  }

  /** @inheritdoc */
  endpoint(endpointId: string): CircuitBreaker {
    const known = this.breakers.get(endpointId);
    if (known) return known.breaker;
    const breaker = new CircuitBreaker({
      dependency: this.name,
      endpointId,
      trip: this.config.breaker,
      resetTimeoutMs: this.config.resetTimeoutMs,
      resetJitter: this.config.resetJitter,
      halfOpenTrials: this.config.halfOpenTrials,
      random: this.options.random,
    });
    const subscription = breaker.onStateChange((t) => {
      const event = { ...t, dependency: this.name, endpointId };
      // inside the call whose outcome moved it: the trace shows the breaker opening
      spanEvent('breaker.transition', {
        'stayline.dependency': this.name,
        'stayline.endpoint': endpointId,
        'stayline.breaker.from': t.from,
        'stayline.breaker.to': t.to,
        'stayline.reason': t.reason,
      });
      this.telemetry.transition(event);
      this.transitions.emit(event);
      this.settle(`endpoint ${endpointId} ${t.to}: ${t.reason}`);
    });
    this.breakers.set(endpointId, { breaker, subscription });
    this.telemetry.added(endpointId);
    this.settle(`endpoint ${endpointId} added`);
    return breaker;
  }

  /**
   * Whether the endpoint's breaker admits a call now (true for an endpoint not
   * seen yet). Makes the policy usable as discovery's `EndpointGate`.
   */
  isCallPermitted(endpointId: string): boolean {
    return this.breakers.get(endpointId)?.breaker.isCallPermitted() ?? true;
  }

  /** @inheritdoc */
  forgetEndpoint(endpointId: string): void {
    const known = this.breakers.get(endpointId);
    if (!known) return;
    known.subscription.dispose();
    this.breakers.delete(endpointId);
    this.telemetry.removed(endpointId);
    this.settle(`endpoint ${endpointId} removed`);
  }

  /** Sets (or clears) the endpoint selector, e.g. once discovery is ready. */
  useSelector(selector: EndpointSelector | undefined): void {
    this.selector = selector;
  }

  /** The state of the dependency and of each endpoint. */
  snapshot(): DependencySnapshot {
    const endpoints: Record<string, BreakerSnapshot> = {};
    for (const [id, { breaker }] of this.breakers) endpoints[id] = breaker.snapshot();
    return {
      name: this.name,
      essential: this.essential,
      state: this.current,
      retryAfterMs: this.retryAfterMs(),
      endpoints,
    };
  }

  /**
   * Makes a guarded call. Rejects with a ResilienceError when it fails (a client
   * error is rethrown as is), or, given a fallback (non-essential dependencies
   * only), resolves to `{ value, degraded: true, reason }` instead.
   */
  call<T>(options: CallOptions, attempt: Attempt<T>): Promise<T>;
  call<T, F = T>(
    options: CallOptions,
    attempt: Attempt<T>,
    fallback: Fallback<F>,
  ): Promise<CallOutcome<T, F>>;
  async call<T, F = T>(
    options: CallOptions,
    attempt: Attempt<T>,
    fallback?: Fallback<F>,
  ): Promise<T | CallOutcome<T, F>> {
    if (fallback && this.essential)
      throw new TypeError(`${this.name} is essential: it fails fast and takes no fallback`);
    // one span per call; its attempts are children, its decisions events (see docs/observability.md)
    return inSpan(
      `${this.name} ${options.operation ?? 'call'}`,
      {
        attributes: {
          'stayline.dependency': this.name,
          'stayline.dependency.essential': this.essential,
          'stayline.dependency.state': this.current,
        },
        isFailure: (error) => !isClientError(error),
      },
      () => this.callGuarded(options, attempt, fallback),
    );
  }

  private async callGuarded<T, F>(
    options: CallOptions,
    attempt: Attempt<T>,
    fallback: Fallback<F> | undefined,
  ): Promise<T | CallOutcome<T, F>> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const value = await this.guarded(options, attempt);
      this.telemetry.called('success', seconds(), false);
      return fallback ? { value, degraded: false } : value;
    } catch (error) {
      if (isClientError(error)) {
        this.telemetry.called('client_error', seconds(), false);
        throw error;
      }
      const failure = this.asResilienceError(error);
      this.telemetry.called(failure.code, seconds(), fallback !== undefined);
      if (!fallback) throw failure;
      spanEvent('fallback', {
        'stayline.dependency': this.name,
        'stayline.reason': failure.message,
        'stayline.error.code': failure.code,
      });
      return {
        value: await fallback(failure.message, failure),
        degraded: true,
        reason: failure.message,
      };
    }
  }

  /** Cancels calls in flight and pending retries, and withdraws the health indicator. */
  dispose(): void {
    this.lifetime.abort();
    this.unregisterHealth();
    for (const id of [...this.breakers.keys()]) this.forgetEndpoint(id);
  }

  private guarded<T>(options: CallOptions, attempt: Attempt<T>): Promise<T> {
    const tried = new Set<string>();
    const first = this.pick(tried);
    if (first === undefined) return Promise.reject(this.nothingToCall());
    const signal = options.signal
      ? AbortSignal.any([this.lifetime.signal, options.signal])
      : this.lifetime.signal;
    const safe = options.idempotent === true || options.retryKey !== undefined;
    return this.withinBulkhead(signal, () =>
      safe && this.config.retry.maxAttempts > 1
        ? retryElsewhere(
            this.config.retry,
            first,
            () => this.pick(tried),
            (endpointId, n) => this.attemptOn(endpointId, n, options, attempt, signal),
            signal,
          )
        : this.attemptOn(first, 1, options, attempt, signal),
    );
  }

  private attemptOn<T>(
    endpointId: string,
    n: number,
    options: CallOptions,
    attempt: Attempt<T>,
    signal: AbortSignal,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.config.timeoutMs;
    const { retryKey } = options;
    const breaker = this.endpoint(endpointId);
    if (n > 1) spanEvent('retry', { 'stayline.attempt': n, 'stayline.endpoint': endpointId });
    return inSpan(
      `${this.name} ${options.operation ?? 'call'} attempt`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'stayline.dependency': this.name,
          'stayline.endpoint': endpointId,
          'stayline.attempt': n,
          'stayline.breaker.state': breaker.state,
          'stayline.timeout_ms': timeoutMs,
        },
        isFailure: (error) => !isClientError(error),
      },
      () =>
        breaker.execute(
          (breakerSignal) =>
            this.timeouts.run(timeoutMs, endpointId, breakerSignal, (attemptSignal) =>
              attempt({ endpointId, attempt: n, signal: attemptSignal, retryKey }),
            ),
          signal,
        ),
    );
  }

  private async withinBulkhead<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.bulkhead.execute(async () => {
        this.telemetry.inFlight(1);
        try {
          return await fn();
        } finally {
          this.telemetry.inFlight(-1);
        }
      }, signal);
    } catch (error) {
      if (!isBulkheadRejectedError(error)) throw error;
      spanEvent('bulkhead.rejected', {
        'stayline.dependency': this.name,
        'stayline.bulkhead.max_concurrent': this.config.bulkhead.maxConcurrent,
      });
      throw new BulkheadRejectedError(
        this.name,
        this.config.bulkhead.maxConcurrent,
        this.config.bulkhead.maxQueue,
      );
    }
  }

  // The next endpoint: not tried by this call, its breaker admitting calls.
  private pick(tried: Set<string>): string | undefined {
    let exclude = tried;
    for (const [id, { breaker }] of this.breakers) {
      if (breaker.isCallPermitted() || exclude.has(id)) continue;
      if (exclude === tried) exclude = new Set(tried);
      exclude.add(id);
    }
    const id = this.selector
      ? this.selector.pick(exclude)
      : exclude.has(SINGLE_ENDPOINT)
        ? undefined
        : SINGLE_ENDPOINT;
    if (exclude !== tried) {
      const skipped = [...exclude].filter((e) => !tried.has(e));
      spanEvent('breaker.skipped', {
        'stayline.dependency': this.name,
        'stayline.endpoints': skipped,
        'stayline.picked': id ?? 'none',
      });
    }
    if (id !== undefined) tried.add(id);
    return id;
  }

  private nothingToCall(): ResilienceError {
    const refusing = [...this.breakers.values()].filter(
      ({ breaker }) => !breaker.isCallPermitted(),
    );
    if (refusing.length === 0) return new NoEndpointError(this.name);
    return new BreakerOpenError(
      this.name,
      Math.min(...refusing.map(({ breaker }) => breaker.retryAfterMs())),
    );
  }

  private asResilienceError(error: unknown): ResilienceError {
    if (error instanceof ResilienceError) return error;
    if (isCancellation(error))
      return new DependencyUnavailableError(this.name, 'call cancelled', 0, { cause: error });
    const detail = error instanceof Error ? error.message || error.name : String(error);
    return new DependencyUnavailableError(this.name, detail, 0, { cause: error });
  }

  // Re-derives the dependency's state from its endpoints' and reports a change once.
  private settle(cause: string): void {
    const states = [...this.breakers.values()].map(({ breaker }) => breaker.state);
    const next =
      states.length === 0 || states.includes(BreakerState.Closed)
        ? BreakerState.Closed
        : states.every((s) => s === BreakerState.Open)
          ? BreakerState.Open
          : BreakerState.HalfOpen;
    const from = this.current;
    if (next === from) return;
    this.current = next;
    const event: DependencyTransition =
      next === BreakerState.Open
        ? {
            dependency: this.name,
            from,
            to: next,
            reason: `every endpoint open (${cause})`,
            retryAfterMs: this.retryAfterMs(),
          }
        : { dependency: this.name, from, to: next, reason: cause };
    this.telemetry.transition(event);
    this.transitions.emit(event);
  }
}
