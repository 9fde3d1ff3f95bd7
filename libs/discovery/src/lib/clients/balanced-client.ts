/**
 * Client-side load balancing over discovered endpoints (docs/patterns/load-balancing.md):
 * the base of the TCP and HTTP clients. It keeps one connection per endpoint in
 * step with the watch (a removed endpoint's connection closes once its calls
 * have ended), picks an endpoint per call, bounds each attempt with a timeout,
 * reports outcomes to the balancer (or the breaker gate), and retries an
 * idempotent call once more on another endpoint.
 */
import { CoordinationLogger, keepTrying, silentLogger, unrefTimeout } from '@stayline/coordination';
import { assertName, ServiceInstance } from '../instance';
import { ServiceResolver, Unsubscribe } from '../registry';
import { Balancer, BalancerOptions, EndpointStats } from '../balancing/balancer';
import { Endpoint } from '../balancing/strategy';
import { DiscoveryCallError, EndpointTimeoutError, isCallerFault, NoEndpointError } from './errors';

export interface BalancedClientOptions extends BalancerOptions {
  resolver: ServiceResolver;
  /** The service to call, as registered. */
  service: string;
  /** Per-attempt timeout. Default 3000 ms. */
  timeoutMs?: number;
  /** Further attempts of an idempotent call, each on an endpoint not tried yet. Default 1. */
  retries?: number;
  logger?: CoordinationLogger;
  /** Told about every attempt and every new endpoint list (metrics; the Nest module uses it). */
  observer?: BalancedClientObserver;
  /** How long start() waits for the first list before it resolves without endpoints. Default 2000 ms. */
  startWaitMs?: number;
  /** While the resolver cannot be watched (coordinator slow or unreachable), try again this often. Default 1000 ms. */
  watchRetryMs?: number;
}

export interface BalancedClientObserver {
  onCall?(service: string, endpointId: string, ok: boolean, latencyMs: number): void;
  onEndpoints?(service: string, endpoints: readonly Endpoint[]): void;
}

export interface CallOptions {
  timeoutMs?: number;
  /** Safe to repeat: a failed attempt is retried on another endpoint. Default false. */
  idempotent?: boolean;
  signal?: AbortSignal;
}

/** One attempt over the endpoint's connection; abort `signal` to give up. */
export type Attempt<C, T> = (conn: C, signal: AbortSignal, endpoint: Endpoint) => Promise<T>;

interface Connection<C> {
  conn: C;
  endpoint: Endpoint;
  inflight: number;
  removed: boolean;
}

export abstract class BalancedClient<C> {
  /** Also a resilience `EndpointSelector`: hand it to a DependencyPolicy with `sendTo` as the attempt. */
  readonly balancer: Balancer;
  protected readonly logger: CoordinationLogger;
  private readonly connections = new Map<string, Connection<C>>();
  private unwatch?: Unsubscribe;
  private closed = false;

  protected constructor(protected readonly options: BalancedClientOptions) {
    assertName('service', options.service);
    this.balancer = new Balancer(options);
    this.logger = options.logger ?? silentLogger;
  }

  /** The port of an instance this client talks to (undefined: the instance does not offer it). */
  protected abstract portOf(instance: ServiceInstance): number | undefined;
  protected abstract open(endpoint: Endpoint): C;
  protected abstract shut(conn: C): void;

  get service(): string {
    return this.options.service;
  }

  get endpoints(): readonly Endpoint[] {
    return this.balancer.endpoints;
  }

  stats(): EndpointStats[] {
    return this.balancer.stats();
  }

  /**
   * Starts following the service's instances. Resolves once the first list is
   * in, or after `startWaitMs` without endpoints (calls fail with
   * NoEndpointError meanwhile) when the resolver does not answer: a coordinator
   * that is slow or unreachable at start-up must not fail the caller's start.
   * A failed watch is retried in the background until it succeeds or the
   * client is closed.
   */
  async start(): Promise<this> {
    let timer: NodeJS.Timeout | undefined;
    const waitMs = this.options.startWaitMs ?? 2_000;
    await Promise.race([
      this.follow(),
      new Promise<void>((resolve) => (timer = unrefTimeout(resolve, waitMs))),
    ]);
    clearTimeout(timer);
    this.logger.info(
      {
        service: this.service,
        strategy: this.balancer.strategy.name,
        endpoints: this.endpoints.length,
        watching: this.unwatch !== undefined,
        timeoutMs: this.timeoutMs(),
      },
      this.unwatch ? 'balanced client started' : 'balanced client started; still trying to watch',
    );
    return this;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    this.unwatch = undefined;
    for (const c of this.connections.values()) this.shut(c.conn);
    this.connections.clear();
    this.balancer.setEndpoints([]);
  }

  /** Watches the service until the watch is in place (never rejects: it retries). */
  private async follow(): Promise<void> {
    let failures = 0;
    const unwatch = await keepTrying(
      () =>
        this.options.resolver.watch(this.options.service, (list) => {
          if (!this.closed) this.onList(list);
        }),
      {
        retryMs: this.options.watchRetryMs ?? 1_000,
        stopped: () => this.closed,
        onFailure: (err) => {
          if (failures++ === 0)
            this.logger.warn(
              { service: this.service, err: err.message },
              'cannot watch the service yet; retrying',
            );
        },
      },
    );
    if (!unwatch) return;
    if (this.closed) return unwatch();
    this.unwatch = unwatch;
    if (failures) this.logger.info({ service: this.service, failures }, 'watching the service now');
  }

  /** One call: picks an endpoint, and for an idempotent call retries on others. */
  protected async call<T>(options: CallOptions, attempt: Attempt<C, T>): Promise<T> {
    const tried = new Set<string>();
    const attempts = 1 + (options.idempotent ? (this.options.retries ?? 1) : 0);
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      const id = this.balancer.pick(tried);
      if (id === undefined) break;
      tried.add(id);
      try {
        return await this.callOn(id, options, attempt);
      } catch (err) {
        lastError = err;
        if (isCallerFault(err) || options.signal?.aborted) throw err;
      }
    }
    throw lastError ?? new NoEndpointError(this.service, this.endpoints.length);
  }

  /** One attempt on one endpoint (what a resilience policy's attempt calls). */
  protected async callOn<T>(
    endpointId: string,
    options: CallOptions,
    attempt: Attempt<C, T>,
  ): Promise<T> {
    const c = this.connections.get(endpointId);
    if (!c)
      throw new DiscoveryCallError(
        `${endpointId} is not a known endpoint of ${this.service}`,
        this.service,
        endpointId,
      );
    const timeoutMs = options.timeoutMs ?? this.timeoutMs();
    const abort = new AbortController();
    const onAbort = () => abort.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new EndpointTimeoutError(this.service, endpointId, timeoutMs));
      }, timeoutMs);
    });
    const done = this.balancer.begin(endpointId);
    const started = performance.now();
    const report = (ok: boolean) => {
      done(ok);
      this.options.observer?.onCall?.(this.service, endpointId, ok, performance.now() - started);
    };
    c.inflight += 1;
    try {
      const value = await Promise.race([attempt(c.conn, abort.signal, c.endpoint), timedOut]);
      report(true);
      return value;
    } catch (err) {
      report(isCallerFault(err));
      throw err;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      c.inflight -= 1;
      if (c.removed && c.inflight === 0) this.drop(endpointId, c);
    }
  }

  private timeoutMs(): number {
    return this.options.timeoutMs ?? 3_000;
  }

  private onList(instances: readonly ServiceInstance[]): void {
    const endpoints: Endpoint[] = [];
    for (const instance of instances) {
      const port = this.portOf(instance);
      if (port !== undefined)
        endpoints.push({ id: instance.id, host: instance.host, port, instance });
    }
    const live = new Set(endpoints.map((e) => e.id));
    for (const [id, c] of this.connections) {
      if (live.has(id)) continue;
      c.removed = true;
      if (c.inflight === 0) this.drop(id, c);
    }
    for (const endpoint of endpoints) {
      const c = this.connections.get(endpoint.id);
      if (c && c.endpoint.host === endpoint.host && c.endpoint.port === endpoint.port) {
        c.removed = false;
        continue;
      }
      if (c) this.drop(endpoint.id, c);
      this.connections.set(endpoint.id, {
        conn: this.open(endpoint),
        endpoint,
        inflight: 0,
        removed: false,
      });
    }
    this.balancer.setEndpoints(endpoints);
    this.options.observer?.onEndpoints?.(this.service, endpoints);
  }

  private drop(id: string, c: Connection<C>): void {
    if (this.connections.get(id) === c) this.connections.delete(id);
    this.shut(c.conn);
  }
}
