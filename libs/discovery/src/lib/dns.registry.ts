/**
 * Service discovery, DNS style (the seed's second option,
 * docs/patterns/service-discovery.md): `_payment._tcp.<domain>` SRV records
 * (host and port per instance) or `payment.<domain>` A records (one port for
 * all). Dynamic, but answers are cached for their TTL, here and in every
 * resolver on the way: a dead address keeps receiving traffic until the TTL
 * runs out, and nothing is pushed; a watch rereads when the TTL expires.
 *
 * Node's resolver gives the TTL of A records but not of SRV records: in SRV
 * mode the cache lives as long as the shortest TTL of the targets' A records.
 */
import { promises as dns } from 'node:dns';
import { Clock, jittered, monotonicClock, unrefTimeout } from '@stayline/coordination';
import { addressId, assertName, parseInstance, ServiceInstance } from './instance';
import { ServiceResolver, Unsubscribe, WatchListener } from './registry';

export interface DnsResolverOptions {
  /** The zone under which services are named, e.g. `stayline.test`. */
  domain: string;
  /** `srv` (default): `_<service>._tcp.<domain>`; `a`: `<service>.<domain>` with `port`. */
  mode?: 'srv' | 'a';
  /** The port of every address in `a` mode. */
  port?: number;
  /** Which port the records give. Default `tcp`. */
  portKind?: 'tcp' | 'http';
  /** DNS servers (`host:port`); default the system's. */
  servers?: string[];
  /** Cache at least this long (also how long "no such name" is remembered). Default 1000 ms. */
  minTtlMs?: number;
  /** Cache at most this long. Default 60000 ms. */
  maxTtlMs?: number;
  clock?: Clock;
}

interface Cached {
  instances: ServiceInstance[];
  expiresAt: number;
}

export class DnsResolver implements ServiceResolver {
  private readonly resolver = new dns.Resolver();
  private readonly cache = new Map<string, Cached>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly clock: Clock;

  constructor(private readonly options: DnsResolverOptions) {
    if (options.servers) this.resolver.setServers(options.servers);
    if ((options.mode ?? 'srv') === 'a' && !options.port)
      throw new Error('DNS discovery in A mode needs a port');
    this.clock = options.clock ?? monotonicClock;
  }

  /** The instances as DNS gives them, from the cache while the TTL lasts. */
  async list(service: string): Promise<ServiceInstance[]> {
    return [...(await this.lookup(service)).instances];
  }

  /** Delivers the list, then rereads whenever the cached answer expires (polling: DNS pushes nothing). */
  async watch(service: string, listener: WatchListener): Promise<Unsubscribe> {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let last = await this.lookup(service);
    listener([...last.instances], { kind: 'snapshot' });
    const poll = async () => {
      if (timer) this.timers.delete(timer);
      if (stopped) return;
      try {
        const next = await this.lookup(service);
        const changed = JSON.stringify(ids(next.instances)) !== JSON.stringify(ids(last.instances));
        last = next;
        if (changed && !stopped) listener([...next.instances], { kind: 'resync' });
      } catch {
        // keep the last answer; try again after the minimum TTL
      }
      schedule();
    };
    const schedule = () => {
      if (stopped) return;
      const wait = Math.max(last.expiresAt - this.clock.now(), this.options.minTtlMs ?? 1_000);
      timer = unrefTimeout(() => void poll(), jittered(wait, 0.05) + 1);
      this.timers.add(timer);
    };
    schedule();
    return () => {
      stopped = true;
      if (timer) {
        clearTimeout(timer);
        this.timers.delete(timer);
      }
    };
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.resolver.cancel();
  }

  private async lookup(service: string): Promise<Cached> {
    assertName('service', service);
    const cached = this.cache.get(service);
    if (cached && cached.expiresAt > this.clock.now()) return cached;
    const { addresses, ttlS } =
      (this.options.mode ?? 'srv') === 'srv'
        ? await this.resolveSrv(service)
        : await this.resolveA(service);
    const ttlMs = Math.min(
      Math.max(ttlS * 1_000, this.options.minTtlMs ?? 1_000),
      this.options.maxTtlMs ?? 60_000,
    );
    const fresh = {
      instances: addresses.map((a) => this.toInstance(service, a.host, a.port)),
      expiresAt: this.clock.now() + ttlMs,
    };
    this.cache.set(service, fresh);
    return fresh;
  }

  private async resolveA(
    service: string,
  ): Promise<{ addresses: Array<{ host: string; port: number }>; ttlS: number }> {
    const records = await orNone(
      this.resolver.resolve4(`${service}.${this.options.domain}`, { ttl: true }),
    );
    return {
      addresses: records.map((r) => ({ host: r.address, port: this.options.port as number })),
      ttlS: Math.min(...records.map((r) => r.ttl)),
    };
  }

  private async resolveSrv(
    service: string,
  ): Promise<{ addresses: Array<{ host: string; port: number }>; ttlS: number }> {
    const srv = await orNone(this.resolver.resolveSrv(`_${service}._tcp.${this.options.domain}`));
    const targets = await Promise.all(
      srv.map(async (s) => ({
        port: s.port,
        records: await orNone(this.resolver.resolve4(s.name, { ttl: true })),
      })),
    );
    return {
      addresses: targets.flatMap((t) => t.records.map((r) => ({ host: r.address, port: t.port }))),
      ttlS: Math.min(...targets.flatMap((t) => t.records.map((r) => r.ttl))),
    };
  }

  private toInstance(service: string, host: string, port: number): ServiceInstance {
    return parseInstance({
      service,
      id: addressId(host, port),
      host,
      ...((this.options.portKind ?? 'tcp') === 'tcp' ? { tcpPort: port } : { httpPort: port }),
      version: 'dns',
      startedAt: new Date(0).toISOString(),
      kind: 'service',
      metadata: { source: 'dns' },
    });
  }
}

/** "No such name" and "no records" are an empty answer, not an error. */
async function orNone<T>(lookup: Promise<T[]>): Promise<T[]> {
  try {
    return await lookup;
  } catch (err) {
    if (['ENOTFOUND', 'ENODATA'].includes((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw err;
  }
}

function ids(instances: readonly ServiceInstance[]): string[] {
  return instances.map((i) => i.id).sort();
}
