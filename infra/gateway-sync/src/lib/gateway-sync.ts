/**
 * Server-side load balancing that follows the registry: the nginx gateway's
 * upstream lists are rendered from service discovery and reloaded when
 * membership changes. See docs/patterns/load-balancing.md ("Server side").
 */
import { CoordinationLogger, keepTrying } from '@stayline/coordination';
import type {
  InstanceChange,
  ServiceInstance,
  ServiceResolver,
  Unsubscribe,
} from '@stayline/discovery';
import { upstreamProblem, type Upstream } from '@stayline/gateway';
import { ConfigApplier, NginxNotRunningError, ReloadResult } from './nginx-reloader';

export interface GatewaySyncOptions {
  /** Where instances come from (the Redis registry through Sentinel). */
  resolver: ServiceResolver;
  /** Every service the gateway routes to. */
  services: readonly string[];
  /** Renders the whole gateway configuration for these upstream lists (renderNginxConfig). */
  render: (upstreams: Record<string, Upstream[]>) => string;
  /** Validates, installs and reloads a configuration. */
  applier: ConfigApplier;
  /** Changes arriving within this window after the first one are applied together. Default 50 ms. */
  debounceMs?: number;
  /**
   * nginx is reloaded at most once per this interval on average, with bursts of
   * `reloadBurst` (a token bucket): under churn, deregistrations too wait for the
   * next token and go out together. Every reload starts a new set of workers and
   * leaves the old ones draining, so a reload per event does not scale with the
   * number of instances. Default 500 ms (2 reloads per second).
   */
  minReloadIntervalMs?: number;
  /** Reloads allowed back to back after a quiet period. Default 1 (the first configuration, at start, takes none). */
  reloadBurst?: number;
  /**
   * Every this often the file on disk is compared with the wanted one and fixed
   * (a failed reload, nginx restarted from its default file). Default 2000 ms.
   */
  reconcileMs?: number;
  /**
   * A watch the registry refused at start (Redis still electing, a loaded host
   * where its commands time out) is tried again this often. Default 1000 ms.
   */
  watchRetryMs?: number;
  logger: CoordinationLogger;
}

/** What the sync has applied, for its `/upstreams` endpoint and the tests. */
export interface GatewaySyncState {
  /** The upstream lists nginx runs now, `host:port` per service. */
  upstreams: Record<string, string[]>;
  reloads: number;
  lastReload?: ReloadResult & { at: string; totalMs: number; reason: string };
  lastError?: string;
}

/** One target group of Prometheus' HTTP service discovery (`http_sd_configs`). */
export interface PrometheusTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * Watches every routed service and keeps nginx's upstreams equal to the
 * registry's instances:
 * - a graceful deregistration is applied at once: the instance keeps serving
 *   only for its drain delay, and nginx must let go of it before it closes;
 * - other changes (registrations, expired leases) are gathered for
 *   `debounceMs` from the first one, so a burst costs one reload;
 * - nginx is reloaded only when the rendered configuration differs from the
 *   one it runs, after `nginx -t` accepted it;
 * - a registration whose host or port is not an address (anyone who can write
 *   to the registry can write anything there) is left out, with one warning
 *   naming it, and the service's other instances are applied as usual.
 */
export class GatewaySync {
  /** Per service, each routable instance's upstream by instance id (kept per change, not per list). */
  private readonly instances = new Map<string, Map<string, Upstream>>();
  /** Per service, the registrations left out (`id: problem`), so each is logged once. */
  private readonly refused = new Map<string, Set<string>>();
  private readonly unsubscribes: Unsubscribe[] = [];
  private readonly pending: string[] = [];
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  /** Reload tokens (see `minReloadIntervalMs`), refilled as time passes. */
  private tokens: number;
  private tokensAt = performance.now();
  private reconciler?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly current: GatewaySyncState = { upstreams: {}, reloads: 0 };

  constructor(private readonly o: GatewaySyncOptions) {
    this.tokens = o.reloadBurst ?? 2;
  }

  get state(): GatewaySyncState {
    return structuredClone(this.current);
  }

  /**
   * Subscribes to every service, then brings nginx in line with the first lists.
   * Never rejects: a watch the registry refuses is retried until it is in place
   * or the sync stops (the process stays up and not ready meanwhile).
   */
  async start(): Promise<void> {
    const { debounceMs = 50, reconcileMs = 2_000, minReloadIntervalMs = 500 } = this.o;
    this.o.logger.info(
      { services: this.o.services, debounceMs, reconcileMs, minReloadIntervalMs },
      'gateway sync: watching the registry',
    );
    for (const service of this.o.services) {
      let failures = 0;
      const unsubscribe = await keepTrying(
        () =>
          this.o.resolver.watch(service, (list, change) => this.onChange(service, list, change)),
        {
          retryMs: this.o.watchRetryMs ?? 1_000,
          stopped: () => this.stopped,
          onFailure: (err) => {
            if (failures++ === 0)
              this.o.logger.warn(
                { upstream: service, err: err.message },
                'cannot watch the registry yet; retrying (nginx keeps its upstreams)',
              );
          },
        },
      );
      if (!unsubscribe) return; // stopped while waiting
      this.unsubscribes.push(unsubscribe);
      if (failures)
        this.o.logger.info({ upstream: service, failures }, 'watching the registry now');
    }
    if (this.stopped) return;
    this.pending.splice(0);
    await this.applyNow('start');
    this.reconciler = setInterval(() => this.schedule('reconcile', true), reconcileMs);
    this.reconciler.unref();
  }

  /**
   * The instances as Prometheus' HTTP service discovery takes them: one group per
   * instance, its HTTP address (which serves `/metrics`) labelled with its service
   * (`job`) and instance id (`instance`). The same validated addresses nginx gets, as
   * the registry has them now (not waiting for a reload): a new instance is scraped
   * at Prometheus' next refresh, a stopped one is dropped.
   */
  prometheusTargets(): PrometheusTargetGroup[] {
    const groups: PrometheusTargetGroup[] = [];
    for (const [service, byId] of this.instances)
      for (const [id, upstream] of byId)
        groups.push({
          targets: addresses([upstream]),
          labels: { job: service, instance: id },
        });
    return groups.sort(
      (a, b) =>
        compare(a.labels['job'], b.labels['job']) ||
        compare(a.labels['instance'], b.labels['instance']),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.reconciler);
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    await this.running;
  }

  /**
   * O(1) per added, updated or removed instance (the registry hands over the
   * whole list with every change: re-reading it per change made a churn of k
   * instances per second cost k x N); the whole list only on a snapshot or resync.
   */
  private onChange(
    service: string,
    list: readonly ServiceInstance[],
    change: InstanceChange,
  ): void {
    let current = this.instances.get(service);
    if (!current) this.instances.set(service, (current = new Map()));
    let changed: boolean;
    let address: string | undefined;
    if (change.kind === 'snapshot' || change.kind === 'resync') {
      const before = addresses(sortUpstreams([...current.values()]));
      const warned = this.refused.get(service) ?? new Set<string>();
      const refusedNow = new Set<string>();
      current.clear();
      for (const instance of list) this.take(service, current, instance, refusedNow, warned);
      this.refused.set(service, refusedNow);
      changed = before.join() !== addresses(sortUpstreams([...current.values()])).join();
    } else {
      const id = change.kind === 'removed' ? change.id : change.instance.id;
      const before = current.get(id);
      current.delete(id);
      this.forgetRefused(service, id);
      if (change.kind !== 'removed') {
        const refused = this.refused.get(service) ?? new Set<string>();
        this.refused.set(service, refused);
        this.take(service, current, change.instance, refused, refused);
      }
      const after = current.get(id);
      address = after ? addresses([after])[0] : before ? addresses([before])[0] : undefined;
      changed = before?.host !== after?.host || before?.port !== after?.port;
    }
    if (change.kind === 'snapshot' || !changed) return;
    const what =
      change.kind === 'removed'
        ? `${service}: ${change.id} removed (${change.reason})`
        : change.kind === 'resync'
          ? `${service}: resync`
          : `${service}: ${change.instance.id} ${change.kind}`;
    this.o.logger.info(
      { upstream: service, change: change.kind, address, instances: current.size },
      what,
    );
    const urgent = change.kind === 'removed' && change.reason === 'deregistered';
    this.schedule(what, urgent);
  }

  /**
   * Adds `instance` to the service's upstreams, or leaves it out (noted in
   * `refused`) with a warning naming it unless `warned` holds it already.
   */
  private take(
    service: string,
    into: Map<string, Upstream>,
    instance: ServiceInstance,
    refused: Set<string>,
    warned: Set<string>,
  ): void {
    const upstream = upstreamOf(instance);
    if (!upstream) return;
    if (!('problem' in upstream)) {
      into.set(instance.id, upstream);
      return;
    }
    const { problem } = upstream;
    const key = `${String(instance.id)}: ${problem}`;
    const known = warned.has(key);
    refused.add(key);
    if (known) return;
    const id = JSON.stringify(String(instance.id).slice(0, 80));
    this.o.logger.warn(
      { upstream: service, instance: instance.id, problem },
      `${service}: registration ${id} left out of nginx (${problem}); the other instances are kept`,
    );
  }

  /** An instance that went away (or changed) is warned about again if it comes back refused. */
  private forgetRefused(service: string, id: string): void {
    const refused = this.refused.get(service);
    if (!refused?.size) return;
    for (const key of refused) if (key.startsWith(`${id}: `)) refused.delete(key);
  }

  /**
   * Applies now (`urgent`) or at the end of the current debounce window, and in
   * either case not before the next reload token.
   */
  private schedule(reason: string, urgent: boolean): void {
    if (reason !== 'reconcile') this.pending.push(reason);
    this.arm(urgent ? 0 : (this.o.debounceMs ?? 50));
  }

  /** Sets the apply timer `inMs` from now (later if no reload token is left), unless it is set sooner. */
  private arm(inMs: number): void {
    if (this.stopped) return;
    const delay = Math.max(inMs, this.tokenWaitMs());
    const at = performance.now() + delay;
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    if (delay <= 0) {
      void this.applyNow();
      return;
    }
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.applyNow();
    }, delay);
  }

  /** How long until a reload token is there (0: now). */
  private tokenWaitMs(): number {
    const interval = this.o.minReloadIntervalMs ?? 500;
    const now = performance.now();
    this.tokens = Math.min(
      this.o.reloadBurst ?? 1,
      this.tokens + (interval > 0 ? (now - this.tokensAt) / interval : Infinity),
    );
    this.tokensAt = now;
    return this.tokens >= 1 ? 0 : (1 - this.tokens) * interval;
  }

  /** One apply at a time; a change during an apply is applied afterwards (a token permitting). */
  private applyNow(reason?: string): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        const reasons = reason ? [reason] : this.pending.splice(0);
        await this.applyOnce(reasons.join('; ') || 'reconcile');
      } finally {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.arm(0);
        }
      }
    })();
    return this.running;
  }

  private async applyOnce(reason: string): Promise<void> {
    const upstreams = Object.fromEntries(
      this.o.services.map((s) => [s, sortUpstreams([...(this.instances.get(s)?.values() ?? [])])]),
    );
    let wanted: string;
    try {
      wanted = this.o.render(upstreams);
    } catch (err) {
      // renderNginxConfig refuses what is not an address: nginx keeps what it runs
      this.current.lastError = (err as Error).message;
      this.o.logger.error(
        { reason, err: (err as Error).message },
        'gateway config not rendered; nginx keeps its configuration',
      );
      return;
    }
    const lists = Object.fromEntries(Object.entries(upstreams).map(([s, u]) => [s, addresses(u)]));
    if (wanted === this.o.applier.read()) {
      this.current.upstreams = lists;
      return;
    }
    this.tokenWaitMs(); // brings the bucket up to date
    if (reason !== 'start') this.tokens -= 1;
    const t0 = performance.now();
    try {
      const result = await this.o.applier.apply(wanted);
      const totalMs = performance.now() - t0;
      this.current.upstreams = lists;
      this.current.reloads++;
      this.current.lastReload = { ...result, at: new Date().toISOString(), totalMs, reason };
      this.current.lastError = undefined;
      this.o.logger.info(
        {
          reason,
          // counts: the lists themselves are at /upstreams (thousands of addresses per line cost more than the reload)
          upstreams: Object.fromEntries(Object.entries(lists).map(([s, l]) => [s, l.length])),
          validateMs: round(result.validateMs),
          reloadMs: result.reloadMs === undefined ? null : round(result.reloadMs),
          totalMs: round(totalMs),
        },
        result.reloadMs === undefined
          ? 'nginx reloaded (new workers not confirmed)'
          : 'nginx reloaded with the new upstreams',
      );
    } catch (err) {
      this.current.lastError = (err as Error).message;
      // nginx stopped before the sync (the launcher stops the gateway first): expected, not an error
      const level = err instanceof NginxNotRunningError ? 'warn' : 'error';
      this.o.logger[level](
        { reason, err: (err as Error).message },
        'gateway config not applied; retrying on the next check',
      );
    }
  }
}

/** A registration {@link toUpstreams} left out, and why. */
export interface RefusedInstance {
  instance: ServiceInstance;
  problem: string;
}

/**
 * Service instances with an HTTP port, in a stable order (so a reordering is no
 * change). One whose host is not an IP address or a host name, or whose port is
 * not a port (libs/gateway upstream.ts), is left out and passed to `refused`.
 */
export function toUpstreams(
  list: readonly ServiceInstance[],
  refused: (r: RefusedInstance) => void = () => undefined,
): Upstream[] {
  const upstreams: Upstream[] = [];
  for (const instance of list) {
    const upstream = upstreamOf(instance);
    if (!upstream) continue;
    if ('problem' in upstream) refused({ instance, problem: upstream.problem });
    else upstreams.push(upstream);
  }
  return sortUpstreams(upstreams);
}

/** The upstream of one instance; undefined when it takes no HTTP traffic; its problem when it is no address. */
function upstreamOf(instance: ServiceInstance): Upstream | { problem: string } | undefined {
  if (instance.kind !== 'service' || instance.httpPort === undefined) return undefined;
  const upstream = { host: instance.host, port: instance.httpPort };
  const problem = upstreamProblem(upstream);
  return problem ? { problem } : upstream;
}

function sortUpstreams(list: Upstream[]): Upstream[] {
  return list.sort((a, b) => compare(a.host, b.host) || a.port - b.port);
}

/** Code-unit order: stable, and cheaper than localeCompare. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function addresses(list: Upstream[]): string[] {
  return list.map((u) => `${u.host}:${u.port}`);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
