import net from 'node:net';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { CoordinationLogger, delay, jittered } from '@stayline/coordination';
import { HealthRegistry, healthRegistry } from '@stayline/observability';
import { describeInstance } from '../instance';
import { Registration, ServiceRegistry } from '../registry';
import {
  DISCOVERY_LOGGER,
  DISCOVERY_OPTIONS,
  DiscoveryModuleOptions,
  SERVICE_REGISTRY,
} from './discovery.options';
import { registeredGauge, registerHealth } from './discovery.telemetry';
import { InFlightTracker } from './in-flight.interceptor';

/**
 * The instance's life in the registry (docs/patterns/service-discovery.md):
 * registered once it listens; on shutdown deregistered *first* (callers stop
 * picking it within milliseconds), then serving on for `drainDelayMs` and until
 * the requests in flight are done, and only then does Nest close the servers.
 * Needs `app.enableShutdownHooks()` so that SIGTERM closes the app.
 */
@Injectable()
export class DiscoveryLifecycle
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private registration?: Registration;
  private registering?: Promise<Registration>;
  private readonly cleanups: Array<() => void> = [];
  private shuttingDown = false;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: DiscoveryModuleOptions,
    @Inject(SERVICE_REGISTRY) private readonly registry: ServiceRegistry,
    @Inject(DISCOVERY_LOGGER) private readonly logger: CoordinationLogger,
    private readonly tracker: InFlightTracker,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
    @Optional() private readonly health?: HealthRegistry,
  ) {}

  /** This instance's registration, once registered. */
  get current(): Registration | undefined {
    return this.registration;
  }

  onApplicationBootstrap(): void {
    this.cleanups.push(
      registerHealth(this.health ?? healthRegistry, {
        service: this.options.service,
        instanceId: () => this.registration?.instance.id,
        registered: () => this.registration !== undefined,
        inFlight: () => this.tracker.inFlight,
        completed: () => this.tracker.completed,
        failed: () => this.tracker.failed,
      }),
    );
    if (this.options.register === 'manual') return;
    const server = this.adapterHost?.httpAdapter?.getHttpServer() as net.Server | undefined;
    if (!server) {
      this.logger.warn(
        { service: this.options.service },
        'no HTTP server to wait for: call DiscoveryLifecycle.register() once listening',
      );
      return;
    }
    const go = () => void this.register();
    if (server.listening) go();
    else server.once('listening', go);
  }

  /**
   * Registers this instance (done by itself once the HTTP server listens,
   * unless `register: 'manual'`). While the coordinator is unreachable it
   * keeps trying (every 500 ms) until it succeeds or the app shuts down.
   */
  register(): Promise<Registration> {
    this.registering ??= this.registerUntilDone();
    return this.registering;
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.shuttingDown = true;
    const registration = this.registration ?? (await this.registering?.catch(() => undefined));
    this.registration = undefined;
    if (registration) {
      await registration
        .deregister()
        .catch((err: Error) =>
          this.logger.warn({ err: err.message }, 'deregistration failed; the lease will expire'),
        );
      registeredGauge().set({ service: this.options.service }, 0);
    }
    const drainDelayMs = this.options.drainDelayMs ?? 100;
    const drainTimeoutMs = this.options.drainTimeoutMs ?? 10_000;
    this.logger.info(
      { signal, drainDelayMs, drainTimeoutMs, inFlight: this.tracker.inFlight },
      'deregistered; draining',
    );
    await delay(drainDelayMs);
    const drained = await this.tracker.idle(drainTimeoutMs);
    if (!drained)
      this.logger.warn(
        { inFlight: this.tracker.inFlight },
        'drain timed out; closing with requests in flight',
      );
  }

  async onApplicationShutdown(): Promise<void> {
    for (const c of this.cleanups.splice(0)) c();
    await this.registry.close();
  }

  private async registerUntilDone(): Promise<Registration> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.doRegister();
      } catch (err) {
        if (this.shuttingDown) throw err;
        if (attempt === 1)
          this.logger.warn(
            { err: (err as Error).message },
            'registration failed; retrying every 500 ms',
          );
        await delay(jittered(500), { unref: true });
      }
    }
  }

  private async doRegister(): Promise<Registration> {
    const o = this.options;
    const address = this.adapterHost?.httpAdapter?.getHttpServer()?.address() as
      net.AddressInfo | null | undefined;
    const httpPort = o.httpPort ?? address?.port;
    if (o.tcpPort) await waitForPort(o.host ?? '127.0.0.1', o.tcpPort);
    const instance = describeInstance({
      service: o.service,
      id: o.instanceId,
      host: o.host ?? '127.0.0.1',
      httpPort,
      tcpPort: o.tcpPort,
      version: o.version,
      metadata: o.metadata,
    });
    this.registration = await this.registry.register(instance, o.lease);
    registeredGauge().set({ service: o.service }, 1);
    return this.registration;
  }
}

/** Registering before the TCP server accepts would send callers to a closed port. */
async function waitForPort(host: string, port: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`TCP port ${host}:${port} does not accept connections; not registering`);
    await delay(20);
  }
}
