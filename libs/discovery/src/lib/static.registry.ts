/**
 * Service discovery, config-file style (the seed's first option,
 * docs/patterns/service-discovery.md): every address written down,
 * `payment=127.0.0.1:4201,127.0.0.1:4202`. Nothing to run, nothing to fail;
 * but a dead address stays in the list and a new instance is invisible until
 * the file is edited and every caller redeployed.
 */
import fs from 'node:fs';
import { addressId, assertName, parseInstance, ServiceInstance } from './instance';
import { ServiceResolver, Unsubscribe, WatchListener } from './registry';

export interface StaticResolverOptions {
  /** `{ payment: ['127.0.0.1:4201', ...] }`, or the config text (see {@link StaticResolver.parse}). */
  services: Record<string, string[]> | string;
  /** Which port the addresses are. Default `tcp`. */
  port?: 'tcp' | 'http';
}

export class StaticResolver implements ServiceResolver {
  private readonly services: Map<string, ServiceInstance[]>;

  constructor(options: StaticResolverOptions) {
    const services =
      typeof options.services === 'string'
        ? StaticResolver.parse(options.services)
        : options.services;
    const loadedAt = new Date().toISOString();
    this.services = new Map(
      Object.entries(services).map(([service, addresses]) => {
        assertName('service', service);
        return [
          service,
          addresses.map((a) => toInstance(service, a, options.port ?? 'tcp', loadedAt)),
        ];
      }),
    );
  }

  /** Parses `service=host:port,host:port` entries, one per line or separated by `;`; `#` starts a comment. */
  static parse(config: string): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const raw of config.split(/[;\n]/)) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      const eq = line.indexOf('=');
      if (eq <= 0)
        throw new Error(
          `static discovery: expected service=host:port[,host:port] but got "${line}"`,
        );
      out[line.slice(0, eq).trim()] = line
        .slice(eq + 1)
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
    }
    return out;
  }

  /** Reads the config file at `path`. */
  static fromFile(path: string, port: 'tcp' | 'http' = 'tcp'): StaticResolver {
    return new StaticResolver({ services: fs.readFileSync(path, 'utf8'), port });
  }

  async list(service: string): Promise<ServiceInstance[]> {
    return [...(this.services.get(service) ?? [])];
  }

  /** Delivers the list once: it never changes (that is the limit of this style). */
  async watch(service: string, listener: WatchListener): Promise<Unsubscribe> {
    listener(await this.list(service), { kind: 'snapshot' });
    return () => undefined;
  }

  async close(): Promise<void> {
    // nothing to close
  }
}

function toInstance(
  service: string,
  address: string,
  port: 'tcp' | 'http',
  startedAt: string,
): ServiceInstance {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const n = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(n) || n <= 0 || n > 65535)
    throw new Error(`static discovery: bad address "${address}" for ${service}`);
  return parseInstance({
    service,
    id: addressId(host, n),
    host,
    ...(port === 'tcp' ? { tcpPort: n } : { httpPort: n }),
    version: 'static',
    startedAt,
    kind: 'service',
    metadata: { source: 'static' },
  });
}
