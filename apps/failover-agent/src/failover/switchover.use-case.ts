/**
 * Planned switchover (docs/patterns/failover.md): the primary is made read-only
 * (writes pause: they fail as not applied and the callers retry), the target
 * applies everything the primary logged, is promoted, the old primary becomes
 * its replica, and the new topology is published. Zero writes lost, writes
 * paused for the switch only; before the promotion any failure reopens the old
 * primary as it was.
 */
import type { NodeAddress, PublishedTopology, Topology } from '@stayline/database';
import type { Logger } from 'pino';
import type { TopologyStore } from '../coordinator/topology-store';
import type { MariaDbAdmin } from '../mariadb/mariadb-admin';
import { chooseCandidate } from './candidate';
import type { FailoverReport } from '@stayline/contracts';
import { FailoverUseCase, Steps } from './failover.use-case';

export interface SwitchoverDeps {
  admin: MariaDbAdmin;
  store: TopologyStore;
  failover: FailoverUseCase;
  agentId: string;
  logger: Logger;
  /** How long the target may take to apply what the primary logged. */
  timeoutMs: number;
}

/** A switchover request that cannot be carried out (400/409 to the caller). */
export class SwitchoverRefused extends Error {
  override readonly name = 'SwitchoverRefused';
}

export class SwitchoverUseCase {
  constructor(private readonly d: SwitchoverDeps) {}

  async run(current: PublishedTopology, token: number, target?: string): Promise<FailoverReport> {
    const guard = this.d.failover.guard(token);
    const topo = current.topology;
    const old = topo.primary;
    const views = await Promise.all(
      topo.replicas.map((r) => this.d.admin.view(r, 1_000).catch(() => undefined)),
    );
    const healthy = views.filter(
      (v) =>
        v?.replication?.io === 'Yes' &&
        v.replication.sql === 'Yes' &&
        v.replication.masterHost === old.host &&
        v.replication.masterPort === old.port,
    );
    if (target && !topo.replicas.some((r) => r.name === target))
      throw new SwitchoverRefused(`${target} is not a replica in epoch ${topo.epoch}`);
    const choice = target
      ? healthy.find((v) => v?.name === target)
      : chooseCandidate(healthy.filter((v) => v !== undefined))?.chosen;
    if (!choice)
      throw new SwitchoverRefused(
        `${target ?? 'no replica'} is not replicating from ${old.name} right now`,
      );
    const candidate = topo.replicas.find((r) => r.name === choice.name) as NodeAddress;

    guard();
    const steps = new Steps();
    const killed = await this.d.admin.fence(old, 3_000, true); // writes pause from here
    const pausedAt = performance.now();
    const logged = (await this.d.admin.view(old, 1_000)).binlogPos;
    steps.mark('fence');
    try {
      if (!(await this.d.admin.waitApplied(candidate, logged, this.d.timeoutMs)))
        throw new Error(`${candidate.name} did not reach ${logged} within ${this.d.timeoutMs} ms`);
      steps.mark('catch-up');
      guard();
    } catch (err) {
      await this.d.admin.open(old).catch(() => undefined);
      this.d.logger.warn({ err: (err as Error).message }, 'switchover abandoned; primary reopened');
      throw err;
    }
    const others = topo.replicas.filter((r) => r.name !== candidate.name);
    const promoted = await this.d.failover.promote(
      candidate,
      others,
      { epoch: topo.epoch + 1, token },
      guard,
      old,
    );
    steps.merge(promoted.steps);
    const next: Topology = {
      epoch: topo.epoch + 1,
      primary: candidate,
      replicas: [...others, old],
      fenced: topo.fenced,
    };
    const published = await this.d.store.publish(next, {
      expectedEpoch: topo.epoch,
      token,
      publisher: this.d.agentId,
    });
    const writesPausedMs = Math.round(performance.now() - pausedAt);
    steps.mark('publish');
    return {
      kind: 'switchover',
      epoch: next.epoch,
      from: old.name,
      to: candidate.name,
      reason: 'planned switchover (admin request)',
      resumed: false,
      at: new Date().toISOString(),
      fence: `read_only=ON, ${killed} connection(s) killed; then a replica of ${candidate.name}`,
      positions: { [old.name]: logged },
      replicas: next.replicas.map((r) => r.name),
      semiSyncClients: promoted.clients,
      durable: published.durable,
      steps: steps.ms,
      totalMs: steps.total,
      writesPausedMs,
    };
  }
}
