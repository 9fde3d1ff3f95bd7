import { Inject, Injectable } from '@nestjs/common';
import { CoordinationLogger } from '@stayline/coordination';
import { ServiceRegistry } from '../registry';
import {
  BalancedClient,
  BalancedClientObserver,
  BalancedClientOptions,
} from '../clients/balanced-client';
import { BalancedHttpClient } from '../clients/balanced-http.client';
import { BalancedTcpClient } from '../clients/balanced-tcp.client';
import { DISCOVERY_LOGGER, SERVICE_REGISTRY } from './discovery.options';
import { lbObserver } from './discovery.telemetry';

export type ClientOptions = Omit<BalancedClientOptions, 'resolver' | 'service'>;

/**
 * Balanced clients for the services this one calls, resolved through the
 * registry (docs/patterns/load-balancing.md). One client per service and
 * transport, created on first use and closed on shutdown.
 */
@Injectable()
export class DiscoveryClients {
  private readonly clients = new Map<string, Promise<BalancedClient<unknown>>>();
  private readonly observer: BalancedClientObserver = lbObserver();

  constructor(
    @Inject(SERVICE_REGISTRY) private readonly registry: ServiceRegistry,
    @Inject(DISCOVERY_LOGGER) private readonly logger: CoordinationLogger,
  ) {}

  /** A @nestjs/microservices TCP client for `service`. */
  tcp(service: string, options: ClientOptions = {}): Promise<BalancedTcpClient> {
    return this.get(`tcp:${service}`, () =>
      BalancedTcpClient.connect(this.options(service, options)),
    );
  }

  /** An HTTP client for `service`. */
  http(service: string, options: ClientOptions = {}): Promise<BalancedHttpClient> {
    return this.get(`http:${service}`, () =>
      BalancedHttpClient.connect(this.options(service, options)),
    );
  }

  /** The clients created so far (health details). */
  async all(): Promise<Array<BalancedClient<unknown>>> {
    return Promise.all(this.clients.values());
  }

  async closeAll(): Promise<void> {
    const all = await Promise.allSettled(this.clients.values());
    this.clients.clear();
    await Promise.all(all.map((c) => (c.status === 'fulfilled' ? c.value.close() : undefined)));
  }

  private options(service: string, options: ClientOptions): BalancedClientOptions {
    return {
      logger: this.logger,
      observer: this.observer,
      ...options,
      resolver: this.registry,
      service,
    };
  }

  private get<C extends BalancedClient<unknown>>(
    key: string,
    create: () => Promise<C>,
  ): Promise<C> {
    let c = this.clients.get(key);
    if (!c) {
      c = create();
      this.clients.set(key, c);
      c.catch(() => this.clients.delete(key));
    }
    return c as Promise<C>;
  }
}
