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
  private readonly instances = new Map<string, Upstream[]>();
  /** Per service, the registrations left out (`id: problem`), so each is logged once. */
  private readonly refused = new Map<string, Set<string>>();
  private readonly unsubscribes: Unsubscribe[] = [];
  private readonly pending: string[] = [];
  private timer?: NodeJS.Timeout;
  private reconciler?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly current: GatewaySyncState = { upstreams: {}, reloads: 0 };

  constructor(private readonly o: GatewaySyncOptions) {}

  get state(): GatewaySyncState {
    return structuredClone(this.current);
  }

  /**
   * Subscribes to every service, then brings nginx in line with the first lists.
   * Never rejects: a watch the registry refuses is retried until it is in place
   * or the sync stops (the process stays up and not ready meanwhile).
   */
  async start(): Promise<void> {
    const { debounceMs = 50, reconcileMs = 2_000 } = this.o;
    this.o.logger.info(
      { services: this.o.services, debounceMs, reconcileMs },
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

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.reconciler);
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    await this.running;
  }

  private onChange(
    service: string,
    list: readonly ServiceInstance[],
    change: InstanceChange,
  ): void {
    const refusedNow = new Set<string>();
    const upstreams = toUpstreams(list, ({ instance, problem }) => {
      const key = `${String(instance.id)}: ${problem}`;
      refusedNow.add(key);
      if (this.refused.get(service)?.has(key)) return;
      const id = JSON.stringify(String(instance.id).slice(0, 80));
      this.o.logger.warn(
        { upstream: service, instance: instance.id, problem },
        `${service}: registration ${id} left out of nginx (${problem}); the other instances are kept`,
      );
    });
    this.refused.set(service, refusedNow);
    const before = addresses(this.instances.get(service) ?? []);
    this.instances.set(service, upstreams);
    if (change.kind === 'snapshot') return;
    const after = addresses(upstreams);
    if (before.join() === after.join()) return;
    const what =
      change.kind === 'removed'
        ? `${service}: ${change.id} removed (${change.reason})`
        : change.kind === 'resync'
          ? `${service}: resync`
          : `${service}: ${change.instance.id} ${change.kind}`;
    this.o.logger.info({ upstream: service, change: change.kind, instances: after }, what);
    const urgent = change.kind === 'removed' && change.reason === 'deregistered';
    this.schedule(what, urgent);
  }

  /** Applies now (`urgent`) or at the end of the current debounce window. */
  private schedule(reason: string, urgent: boolean): void {
    if (this.stopped) return;
    if (reason !== 'reconcile') this.pending.push(reason);
    if (urgent) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.applyNow();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.applyNow();
    }, this.o.debounceMs ?? 50);
  }

  /** One apply at a time; a change during an apply triggers one more afterwards. */
  private applyNow(reason?: string): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          const reasons = reason ? [reason] : this.pending.splice(0);
          reason = undefined;
          await this.applyOnce(reasons.join('; ') || 'reconcile');
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async applyOnce(reason: string): Promise<void> {
    const upstreams = Object.fromEntries(
      this.o.services.map((s) => [s, this.instances.get(s) ?? []] as const),
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
          upstreams: lists,
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
    if (instance.kind !== 'service' || instance.httpPort === undefined) continue;
    const upstream = { host: instance.host, port: instance.httpPort };
    const problem = upstreamProblem(upstream);
    if (problem) refused({ instance, problem });
    else upstreams.push(upstream);
  }
  return upstreams.sort((a, b) => a.host.localeCompare(b.host) || a.port - b.port);
}

function addresses(list: Upstream[]): string[] {
  return list.map((u) => `${u.host}:${u.port}`);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
