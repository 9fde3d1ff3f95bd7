/**
 * The datastore agent of the seed's service discovery section
 * (docs/patterns/service-discovery.md, docs/patterns/failover.md): MariaDB and
 * Redis cannot register themselves, so every agent registers them on their
 * behalf with their role. Entries live while any agent renews them, so an
 * agent dying does not make a datastore look dead; only the leader reports a
 * node down (a fenced or unreachable MariaDB node, a Redis node that does not
 * answer), and registers it again once it is back.
 */
import { parseInstance, Registration, ServiceRegistry } from '@stayline/discovery';
import type { Logger } from 'pino';

/** One datastore entry as it should be now. */
export interface DatastoreEntry {
  service: 'mariadb' | 'redis';
  id: string;
  host: string;
  port: number;
  role: string;
}

export class DatastoreRegistrar {
  private readonly held = new Map<string, Registration>();

  constructor(
    private readonly registry: ServiceRegistry,
    private readonly agentId: string,
    private readonly logger: Logger,
    private readonly ttlMs = 3_000,
  ) {}

  /**
   * Registers (or updates the role of) every entry in `live`; entries in `down`
   * are reported down by the leader (`authoritative`) and merely released by the others.
   */
  async reconcile(
    live: DatastoreEntry[],
    down: Array<Pick<DatastoreEntry, 'service' | 'id'>>,
    authoritative: boolean,
  ): Promise<void> {
    const services = [...new Set([...live, ...down].map((e) => e.service))];
    const listed = new Map(
      await Promise.all(
        services.map(
          async (s) => [s, new Set((await this.registry.list(s)).map((i) => i.id))] as const,
        ),
      ),
    );
    for (const e of live) {
      const key = `${e.service}/${e.id}`;
      const reg = this.held.get(key);
      if (reg && listed.get(e.service)?.has(e.id)) {
        if (reg.instance.role !== e.role) await reg.update({ role: e.role });
        continue;
      }
      // new, or refused or expired meanwhile (reported down, a Redis failover lost it): register again
      await reg?.release();
      this.held.set(key, await this.register(e));
    }
    for (const e of down) {
      const key = `${e.service}/${e.id}`;
      const reg = this.held.get(key);
      this.held.delete(key);
      if (authoritative && listed.get(e.service)?.has(e.id)) {
        await (
          reg ?? (await this.register({ ...e, host: 'unknown', port: 1, role: 'down' }))
        ).deregister();
        this.logger.warn(
          { service: e.service, id: e.id },
          `${e.service} node ${e.id} reported down in discovery`,
        );
      } else await reg?.release();
    }
  }

  /** Stops renewing without removing anything: the other agents keep the entries alive. */
  async release(): Promise<void> {
    await Promise.all([...this.held.values()].map((r) => r.release()));
    this.held.clear();
  }

  private register(e: DatastoreEntry): Promise<Registration> {
    // the same record from every agent (no start time, nothing agent-specific): renewals by
    // several agents then change nothing, and watchers see no flapping `updated` events
    const record = parseInstance({
      service: e.service,
      id: e.id,
      host: e.host,
      tcpPort: e.port,
      version: '',
      startedAt: '',
      kind: 'datastore',
      role: e.role,
      metadata: {},
    });
    return this.registry.registerOnBehalf(record, { agentId: this.agentId, ttlMs: this.ttlMs });
  }
}
