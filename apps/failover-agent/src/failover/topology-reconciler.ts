/**
 * The leader's slower duties between failovers (docs/patterns/failover.md),
 * each a compare-and-set publish when it changes the topology:
 * - publish the first topology (epoch 1, or after the last epoch MariaDB recorded);
 * - keep fenced nodes fenced: one that is reachable and writable is made
 *   read-only again and its connections killed; one that replicates from the
 *   current primary (after `stack:rejoin`) is a replica again; with
 *   `rejoinFenced`, one that is back read-only and holds nothing the primary
 *   lacks is pointed at the primary here (a restarted container);
 * - repoint a replica left following an old primary (it was down during the failover);
 * - admit nodes added at run time (`stack:add-replica`) once they replicate.
 */
import { hasReached, type NodeAddress, type Topology } from '@stayline/contracts';
import type { PublishedTopology } from '@stayline/database';
import type { Logger } from 'pino';
import type { TopologyStore } from '../coordinator/topology-store';
import type { MariaDbAdmin, NodeView } from '../mariadb/mariadb-admin';
import { heldPosition, missingFrom } from './candidate';

export interface ReconcilerDeps {
  admin: MariaDbAdmin;
  store: TopologyStore;
  agentId: string;
  logger: Logger;
  /** Every node the agent knows of: configured ones and members added at run time. */
  nodes: () => Promise<NodeAddress[]>;
  /** Rejoin a fenced node that is back and safe to replicate (`REJOIN_FENCED=auto`). */
  rejoinFenced?: boolean;
}

/** Why a node is not where the topology wants it, logged once per cause. */
type Concern = string;

export class TopologyReconciler {
  private readonly concerns = new Map<string, Concern>();

  constructor(private readonly d: ReconcilerDeps) {}

  /** Publishes the first topology when the coordinator has none; returns whether it did. */
  async ensurePublished(token: number): Promise<boolean> {
    if (await this.d.store.current()) return false;
    const nodes = await this.d.nodes();
    const views = await this.viewsOf(nodes);
    const writable = views.filter((v) => !v.readOnly && !v.replication);
    if (writable.length !== 1) {
      this.concern(
        'discovery',
        `no topology published and ${writable.length} writable non-replicating node(s) (${writable.map((v) => v.name).join(' ') || 'none'}): waiting for exactly one`,
      );
      return false;
    }
    const primary = nodes.find((n) => n.name === writable[0].name) as NodeAddress;
    const recorded = await this.d.admin.recordedEpoch(primary).catch(() => 0);
    const topology: Topology = {
      epoch: recorded + 1,
      primary,
      replicas: nodes.filter((n) => n.name !== primary.name),
    };
    await this.d.admin
      .recordEpoch(primary, { epoch: topology.epoch, token, agent: this.d.agentId }, 5_000)
      .catch((err: Error) =>
        this.d.logger.warn({ err: err.message }, 'could not record the epoch on the primary'),
      );
    await this.d.store.publish(topology, { expectedEpoch: 0, token, publisher: this.d.agentId });
    this.d.logger.info(
      {
        epoch: topology.epoch,
        primary: primary.name,
        replicas: topology.replicas.map((r) => r.name),
      },
      'first topology published (discovered from the nodes: the one writable, not replicating)',
    );
    return true;
  }

  /**
   * One pass over fences, stray replicas and new members, from `views` (every
   * known node the agent reached just now); publishes at most one change.
   */
  async reconcile(
    current: PublishedTopology,
    token: number,
    nodes: NodeAddress[],
    views: ReadonlyMap<string, NodeView>,
  ): Promise<void> {
    const topo = current.topology;
    const known = new Set([topo.primary, ...topo.replicas].map((n) => n.name));
    const fenced = nodes.filter((n) => topo.fenced?.includes(n.name));
    const added = nodes.filter((n) => !known.has(n.name) && !topo.fenced?.includes(n.name));
    const primaryView = views.get(topo.primary.name);
    const follows = (v: NodeView | undefined) =>
      v?.replication?.masterHost === topo.primary.host &&
      v.replication.masterPort === topo.primary.port &&
      v.replication.io === 'Yes' &&
      v.replication.sql === 'Yes';

    const back: NodeAddress[] = [];
    for (const node of fenced) {
      const view = views.get(node.name);
      if (!view) continue;
      if (follows(view)) back.push(node);
      else if (!view.readOnly) {
        const killed = await this.d.admin.fence(node).catch(() => -1);
        this.d.logger.warn(
          { node: node.name, killed },
          `${node.name} is fenced but came back writable: read_only=ON again, connections killed`,
        );
      } else if (this.d.rejoinFenced && !view.replication && primaryView)
        await this.rejoin(node, view, topo.primary, primaryView);
      else
        this.concern(
          node.name,
          `${node.name} is fenced: rejoin it (npm run stack:rejoin -- ${node.name})`,
        );
    }
    const admitted = added.filter((n) => follows(views.get(n.name)));
    for (const n of added.filter((x) => !admitted.includes(x)))
      this.concern(
        n.name,
        `${n.name} was added but does not replicate from ${topo.primary.name} yet`,
      );

    // replicas left behind: down during the last failover, still pointing at an older primary
    for (const r of topo.replicas) {
      const view = views.get(r.name);
      if (!view || !primaryView) continue;
      const rep = view.replication;
      // pointing at the primary (running, reconnecting, or stopped on purpose by an operator)
      if (rep && rep.masterHost === topo.primary.host && rep.masterPort === topo.primary.port)
        continue;
      if (!view.readOnly) {
        await this.d.admin.fence(r).catch(() => undefined);
        this.concern(r.name, `${r.name} is a replica in the topology but was writable: fenced`);
        continue;
      }
      if (!hasReached(heldPosition(primaryView), heldPosition(view))) {
        this.concern(
          r.name,
          `${r.name} holds transactions ${topo.primary.name} lacks: it needs a rejoin`,
        );
        continue;
      }
      await this.d.admin.replicate(r, topo.primary);
      this.d.logger.warn(
        { replica: r.name, primary: topo.primary.name },
        'replica repointed at the current primary',
      );
    }

    if (!back.length && !admitted.length) return;
    const next: Topology = {
      epoch: topo.epoch + 1,
      primary: topo.primary,
      replicas: [...topo.replicas, ...back, ...admitted],
      fenced: topo.fenced?.filter((n) => !back.some((b) => b.name === n)),
    };
    await this.d.store.publish(next, {
      expectedEpoch: topo.epoch,
      token,
      publisher: this.d.agentId,
    });
    for (const n of [...back, ...admitted]) this.concerns.delete(n.name);
    this.d.logger.info(
      {
        epoch: next.epoch,
        rejoined: back.map((n) => n.name),
        added: admitted.map((n) => n.name),
      },
      `replicas now ${next.replicas.map((r) => r.name).join(' ')}`,
    );
  }

  /**
   * Points a fenced node that came back at the primary, replicating from what it
   * logged, unless it logged transactions the primary lacks (they were never
   * acknowledged, or it diverged): those need a restart with `--init-rpl-role=SLAVE`
   * or a rebuild, never a silent merge. It is published as a replica on a later
   * pass, once both its threads run.
   */
  private async rejoin(
    node: NodeAddress,
    view: NodeView,
    primary: NodeAddress,
    primaryView: NodeView,
  ): Promise<void> {
    const extra = missingFrom(primaryView.binlogState, view.binlogState);
    if (extra.length) {
      this.concern(
        node.name,
        `${node.name} is fenced and holds ${extra.join(',')} that ${primary.name} lacks: restart it (a restart rolls back what no replica acknowledged) or rebuild it`,
      );
      return;
    }
    await this.d.admin.replicate(node, primary, true);
    this.d.logger.warn(
      { node: node.name, primary: primary.name, logged: view.binlogPos },
      `${node.name} is back: rejoining it as a replica of ${primary.name}`,
    );
  }

  private async viewsOf(nodes: NodeAddress[]): Promise<NodeView[]> {
    const views = await Promise.all(nodes.map((n) => this.d.admin.view(n).catch(() => undefined)));
    return views.filter((v): v is NodeView => v !== undefined);
  }

  /** Logs a concern once (again only after it changed). */
  private concern(key: string, text: string): void {
    if (this.concerns.get(key) === text) return;
    this.concerns.set(key, text);
    this.d.logger.warn({ node: key }, text);
  }
}
