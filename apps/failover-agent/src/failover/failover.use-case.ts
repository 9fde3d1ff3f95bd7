/**
 * Automated failover of the MariaDB primary (docs/patterns/failover.md), run
 * by the leader agent only, every step checked against its fencing token:
 * fence the old primary (read-only and its connections killed if reachable,
 * stopped for good if not), choose the replica that holds every acknowledged
 * write, let it apply its relay log, promote it, repoint the others, turn
 * semi-sync on once a replica is attached, record the epoch and token on it,
 * open it, and publish the new topology by compare-and-set on the epoch.
 */
import type { FailoverReport } from '@stayline/contracts';
import type { NodeAddress, PublishedTopology, Topology } from '@stayline/database';
import type { Logger } from 'pino';
import type { TopologyStore } from '../coordinator/topology-store';
import type { MariaDbAdmin, NodeView } from '../mariadb/mariadb-admin';
import type { Stonith } from '../stonith/stonith';
import { chooseCandidate } from './candidate';
import type { PausePoints } from './pause-points';

/** The leader's token moved on (or it lost the lease) during a failover: it stops acting at once. */
export class DeposedError extends Error {
  override readonly name = 'DeposedError';
}

/** The election as a leader action sees it: `token` is undefined once this agent no longer leads. */
export interface Leadership {
  readonly token: number | undefined;
}

/** Whether `token` is still the leader's: every leader action asks before each of its steps. */
export const stillLeads = (election: Leadership, token: number): boolean =>
  election.token === token;

export interface FailoverDeps {
  admin: MariaDbAdmin;
  store: TopologyStore;
  stonith: Stonith;
  pauses: PausePoints;
  election: Leadership;
  agentId: string;
  logger: Logger;
  catchUpTimeoutMs: number;
  semiSyncWaitMs: number;
}

/** Times the steps of one failover. */
export class Steps {
  readonly ms: Record<string, number> = {};
  private last = performance.now();
  readonly started = this.last;

  mark(step: string): void {
    const now = performance.now();
    this.ms[step] = Math.round(now - this.last);
    this.last = now;
  }

  /** Takes over the steps another timer measured, up to now. */
  merge(inner: Record<string, number>): void {
    Object.assign(this.ms, inner);
    this.last = performance.now();
  }

  get total(): number {
    return Math.round(performance.now() - this.started);
  }
}

export class FailoverUseCase {
  constructor(private readonly d: FailoverDeps) {}

  /** Fails over from `current`'s dead primary; `token` is the leader's fencing token. */
  async run(current: PublishedTopology, token: number, reason: string): Promise<FailoverReport> {
    const guard = this.guard(token);
    const steps = new Steps();
    const topo = current.topology;
    const old = topo.primary;
    const intent = await this.d.store.intent();
    const resume = intent && intent.basedOn === topo.epoch ? intent : undefined;
    if (resume)
      this.d.logger.warn(
        { intent: resume },
        `resuming the failover ${resume.agent} started: ${resume.from} -> ${resume.candidate}`,
      );

    guard();
    // the replicas stop receiving while the old primary is fenced: what they hold stops moving
    // (on a frozen primary stopping waits for their connect attempt, which the STONITH ends)
    const [fence] = await Promise.all([
      this.fenceOrStop(old),
      ...topo.replicas.map((r) =>
        this.d.admin
          .stopReceiving(r)
          .catch((err: Error) =>
            this.d.logger.warn({ replica: r.name, err: err.message }, 'could not stop receiving'),
          ),
      ),
    ]);
    steps.mark('fence');
    await this.d.pauses.reach('after-fence', { primary: old.name });

    const views = await this.viewsOf(topo.replicas);
    const choice = chooseCandidate(views, resume?.candidate);
    if (!choice) throw new Error(`no reachable replica of ${old.name} to promote`);
    const candidate = address(topo, choice.chosen.name);
    guard();
    if (!resume) {
      const intended = await this.d.store.setIntent({
        basedOn: topo.epoch,
        candidate: candidate.name,
        from: old.name,
        token,
        agent: this.d.agentId,
        at: new Date().toISOString(),
      });
      if (!intended) throw new DeposedError('a newer leader holds the failover intent');
    }
    steps.mark('choose');

    const held = choice.positions[candidate.name];
    // (a candidate a dead leader already promoted has no relay log left)
    if (
      choice.chosen.replication &&
      !(await this.d.admin.waitApplied(candidate, held, this.d.catchUpTimeoutMs))
    )
      throw new Error(`${candidate.name} did not apply its relay log (${held}) in time`);
    steps.mark('catch-up');

    const others = views.filter((v) => v.name !== candidate.name).map((v) => address(topo, v.name));
    const promoted = await this.promote(candidate, others, { epoch: topo.epoch + 1, token }, guard);
    steps.merge(promoted.steps);
    await this.d.pauses.reach('after-promote', { candidate: candidate.name });

    guard();
    // a candidate chosen (maybe promoted) by a leader that died, and now unreachable itself, is fenced too
    const lost = resume && resume.candidate !== candidate.name ? [resume.candidate] : [];
    const next: Topology = {
      epoch: topo.epoch + 1,
      primary: candidate,
      replicas: topo.replicas.filter((r) => r.name !== candidate.name && !lost.includes(r.name)),
      fenced: [...new Set([...(topo.fenced ?? []), old.name, ...lost])],
    };
    const published = await this.d.store.publish(next, {
      expectedEpoch: topo.epoch,
      token,
      publisher: this.d.agentId,
    });
    await this.d.store.clearIntent().catch(() => undefined);
    steps.mark('publish');
    return {
      kind: 'failover',
      epoch: next.epoch,
      from: old.name,
      to: candidate.name,
      reason,
      resumed: Boolean(resume),
      at: new Date().toISOString(),
      fence,
      positions: choice.positions,
      replicas: next.replicas.map((r) => r.name),
      semiSyncClients: promoted.clients,
      durable: published.durable,
      steps: steps.ms,
      totalMs: steps.total,
    };
  }

  /**
   * Promotes `candidate` (still read-only), repoints `others` at it, turns
   * semi-sync on once one of them is attached, records the epoch and token on
   * it, then opens it for writes. Shared with the planned switchover.
   */
  async promote(
    candidate: NodeAddress,
    others: NodeAddress[],
    record: { epoch: number; token: number },
    guard: () => void,
    formerPrimary?: NodeAddress,
  ): Promise<{ clients: number; steps: Record<string, number> }> {
    const steps = new Steps();
    guard();
    await this.d.admin.promote(candidate);
    steps.mark('promote');
    await Promise.all(others.map((o) => this.d.admin.replicate(o, candidate)));
    if (formerPrimary) await this.d.admin.replicate(formerPrimary, candidate, true);
    steps.mark('repoint');
    const want = Math.min(1, others.length + (formerPrimary ? 1 : 0));
    const clients = await this.d.admin.waitSemiSyncClients(candidate, want, this.d.semiSyncWaitMs);
    steps.mark('semi-sync');
    guard();
    if (clients > 0) {
      // a semi-sync commit: returns once a replica has it, and refuses an older token
      await this.d.admin.recordEpoch(candidate, { ...record, agent: this.d.agentId }, 10_000);
    } else {
      this.d.logger.error(
        { candidate: candidate.name },
        'no replica attached to the new primary: its writes will wait (and fail) until one is; semi-sync never falls back',
      );
    }
    steps.mark('record-epoch');
    guard();
    await this.d.admin.open(candidate);
    steps.mark('open');
    return { clients, steps: steps.ms };
  }

  /** The guard every step calls: throws {@link DeposedError} once `token` is no longer ours. */
  guard(token: number): () => void {
    return () => {
      if (!stillLeads(this.d.election, token))
        throw new DeposedError(`token ${token} is no longer the leader's: stopping`);
    };
  }

  /** Read-only and connections killed if reachable; otherwise stopped for good (STONITH). */
  private async fenceOrStop(node: NodeAddress): Promise<string> {
    try {
      // it was just declared dead after failed probes: one short attempt is enough
      const killed = await this.d.admin.fence(node, 500);
      return `read_only=ON, ${killed} connection(s) killed`;
    } catch (err) {
      const unreachable = (err as Error).message;
      try {
        const outcome = await this.d.stonith.stop(node);
        return `unreachable (${unreachable}); STONITH ${this.d.stonith.kind}: ${outcome.result}, ${outcome.detail}`;
      } catch (stonithErr) {
        // without STONITH the epoch fence, read-only start-up and semi-sync still keep it from taking writes
        this.d.logger.error(
          { node: node.name, err: (stonithErr as Error).message },
          'old primary unreachable and not stopped: relying on the topology epoch and semi-sync alone',
        );
        return `unreachable, not stopped (${(stonithErr as Error).message})`;
      }
    }
  }

  private async viewsOf(nodes: NodeAddress[]): Promise<NodeView[]> {
    const views = await Promise.all(
      nodes.map((n) => this.d.admin.view(n, 1_000).catch(() => undefined)),
    );
    return views.filter((v): v is NodeView => v !== undefined);
  }
}

function address(t: Topology, name: string): NodeAddress {
  const found = [t.primary, ...t.replicas].find((n) => n.name === name);
  if (!found) throw new Error(`${name} is not in epoch ${t.epoch}`);
  return found;
}
