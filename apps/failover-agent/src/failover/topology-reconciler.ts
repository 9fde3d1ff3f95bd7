/**
 * The leader's slower duties between failovers (docs/patterns/failover.md),
 * each a compare-and-set publish when it changes the topology:
 * - publish the first topology (epoch 1, or after the last epoch MariaDB recorded);
 * - keep fenced nodes fenced: one that is reachable and writable is made
 *   read-only again and its connections killed; one that replicates from the
 *   current primary (after `stack:rejoin`) is a replica again; with
 *   `rejoinFenced`, one that is back read-only and holds nothing the primary
 *   lacks is pointed at the primary here (a restarted container); with
 *   `rebuild`, one holding errant transactions (or left half-rebuilt) is
 *   rebuilt from the primary, for as long as this agent leads with the same
 *   token and the topology keeps that primary and the node fenced;
 * - repoint a replica left following an old primary (it was down during the failover);
 * - admit nodes added at run time (`stack:add-replica`) once they replicate.
 * What keeps a node out of where the topology wants it is a concern: logged
 * once, held as state (`concerns()`, on the agent's `/health` and the
 * dashboard) and dropped on the first pass that finds the node fine again.
 */
import {
  hasReached,
  type NodeAddress,
  type Topology,
  type TopologyConcern,
} from '@stayline/contracts';
import type { PublishedTopology } from '@stayline/database';
import type { Logger } from 'pino';
import type { TopologyStore } from '../coordinator/topology-store';
import type { MariaDbAdmin, NodeView } from '../mariadb/mariadb-admin';
import { type RebuildGuard, type RebuildReport, RebuildStoppedError } from '../mariadb/rebuild';
import { heldPosition, missingFrom } from './candidate';
import { type Leadership, stillLeads } from './failover.use-case';

export interface ReconcilerDeps {
  admin: MariaDbAdmin;
  store: TopologyStore;
  agentId: string;
  logger: Logger;
  election: Leadership;
  /** Every node the agent knows of: configured ones and members added at run time. */
  nodes: () => Promise<NodeAddress[]>;
  /** Rejoin a fenced node that is back and safe to replicate (`REJOIN_FENCED=auto`). */
  rejoinFenced?: boolean;
  /**
   * Rebuild a fenced node holding errant transactions from the primary
   * (`REBUILD_ERRANT=auto`, mariadb/rebuild.ts), asking `guard` before each
   * step that changes the node; without it, it waits for an operator.
   */
  rebuild?: (
    node: NodeAddress,
    primary: NodeAddress,
    guard: RebuildGuard,
  ) => Promise<RebuildReport>;
  clock?: () => Date;
}

/** A concern as raised, before it is dated and worded. */
type Raised = Omit<TopologyConcern, 'since' | 'text'>;

/** One concern per node (the key is its name), `''` for the cluster's own (`discovery`). */
const keyOf = (c: Pick<TopologyConcern, 'node'>) => c.node ?? '';

export class TopologyReconciler {
  private readonly held = new Map<string, TopologyConcern>();
  /** Keys raised, or left standing because their node could not be looked at, in this pass. */
  private readonly touched = new Set<string>();
  /** Nodes pointed at the primary or published as replicas in this pass. */
  private readonly rejoining = new Set<string>();
  /** Whether a pass ran since this agent leads: before it, what is held says nothing. */
  private reconciled = false;
  /** Rebuilds under way, by node: they run beside the passes, one per node at a time. */
  private readonly rebuilding = new Map<string, { done: Promise<void>; stop: AbortController }>();

  constructor(private readonly d: ReconcilerDeps) {}

  /**
   * The concerns as of the last pass, oldest first; undefined before the first
   * pass (or since `reset`), when they would say "all fine" without knowing.
   */
  concerns(): TopologyConcern[] | undefined {
    if (!this.reconciled) return undefined;
    return [...this.held.values()]
      .sort((a, b) => a.since.localeCompare(b.since) || keyOf(a).localeCompare(keyOf(b)))
      .map((c) => ({ ...c, gtids: c.gtids && [...c.gtids] }));
  }

  /**
   * Forgets every concern and stops the rebuilds under way: this agent no
   * longer leads, the new leader reports its own (and rebuilds what they left).
   */
  reset(): void {
    this.held.clear();
    this.reconciled = false;
    for (const { stop } of this.rebuilding.values()) stop.abort('leadership lost');
  }

  /** Publishes the first topology when the coordinator has none; returns whether it did. */
  async ensurePublished(token: number): Promise<boolean> {
    if (await this.d.store.current()) return false;
    const nodes = await this.d.nodes();
    const views = await this.viewsOf(nodes);
    const writable = views.filter((v) => !v.readOnly && !v.replication);
    this.reconciled = true;
    if (writable.length !== 1) {
      this.concern(
        { kind: 'discovery' },
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
    this.held.delete(keyOf({}));
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
   * known node the agent reached just now); publishes at most one change. A
   * concern not raised again is dropped, but for a node it could not look at
   * (unreachable, or the primary is): that one stands.
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

    this.touched.clear();
    this.rejoining.clear();
    const back: NodeAddress[] = [];
    for (const node of fenced) {
      const view = views.get(node.name);
      if (!view) this.touched.add(node.name);
      else if (follows(view) && !view.rebuild) back.push(node);
      else if (!view.readOnly) {
        this.touched.add(node.name); // what it holds is read again once it is read-only
        const killed = await this.d.admin.fence(node).catch(() => -1);
        this.d.logger.warn(
          { node: node.name, killed },
          `${node.name} is fenced but came back writable: read_only=ON again, connections killed`,
        );
      } else if (!primaryView && this.held.has(node.name))
        this.touched.add(node.name); // nothing to compare it with: its concern stands
      else if (!primaryView || !(await this.rejoin(node, view, topo.primary, primaryView, token)))
        this.concern(
          { kind: 'fenced', node: node.name, primary: topo.primary.name },
          `${node.name} is fenced: rejoin it (npm run stack:rejoin -- ${node.name})`,
        );
    }
    const admitted = added.filter((n) => follows(views.get(n.name)));
    for (const n of added.filter((x) => !admitted.includes(x)))
      this.concern(
        { kind: 'not-replicating', node: n.name, primary: topo.primary.name },
        `${n.name} was added but does not replicate from ${topo.primary.name} yet`,
      );

    // replicas left behind: down during the last failover, still pointing at an older primary
    for (const r of topo.replicas) {
      const view = views.get(r.name);
      if (!view || !primaryView) {
        this.touched.add(r.name);
        continue;
      }
      const rep = view.replication;
      // pointing at the primary (running, reconnecting, or stopped on purpose by an operator)
      if (rep && rep.masterHost === topo.primary.host && rep.masterPort === topo.primary.port)
        continue;
      if (!view.readOnly) {
        await this.d.admin.fence(r).catch(() => undefined);
        this.concern(
          { kind: 'writable-replica', node: r.name, primary: topo.primary.name },
          `${r.name} is a replica in the topology but was writable: fenced`,
        );
        continue;
      }
      if (!hasReached(heldPosition(primaryView), heldPosition(view))) {
        const extra = missingFrom(primaryView.binlogState, view.binlogState);
        this.concern(
          {
            kind: 'diverged',
            node: r.name,
            primary: topo.primary.name,
            ...(extra.length ? { gtids: extra } : {}),
          },
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

    for (const n of [...back, ...admitted]) this.rejoining.add(n.name);
    this.sweep();
    this.reconciled = true;

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
   * A fenced node back read-only and not following the primary: if it logged
   * transactions the primary lacks (errant GTIDs: never acknowledged, or it
   * diverged), or a rebuild was stopped half-way on it (its mark), that is its
   * concern, and with `rebuild` it is rebuilt from the primary (never a silent
   * merge: they were never acknowledged, and the new primary may have written
   * the same rows since). Otherwise, with `rejoinFenced` and no replication
   * set up, it is pointed at the primary, replicating from what it logged, and
   * published as a replica on a later pass, once both its threads run.
   * Returns whether it took care of the node.
   */
  private async rejoin(
    node: NodeAddress,
    view: NodeView,
    primary: NodeAddress,
    primaryView: NodeView,
    token: number,
  ): Promise<boolean> {
    if (this.rebuilding.has(node.name)) {
      this.touched.add(node.name);
      return true;
    }
    const extra = missingFrom(primaryView.binlogState, view.binlogState);
    const half = view.rebuild;
    if (extra.length || half) {
      const rebuild = this.d.rebuild;
      const gtids = extra.length
        ? extra
        : missingFrom(primaryView.binlogState, half?.discarded ?? '');
      const what = extra.length
        ? `holds ${extra.join(',')} that ${primary.name} lacks (logged, never acknowledged)`
        : `was left half-rebuilt (a rebuild from ${half?.from} started ${half?.at} stopped)`;
      this.concern(
        {
          kind: 'errant-gtids',
          node: node.name,
          primary: primary.name,
          ...(gtids.length ? { gtids } : {}),
        },
        rebuild
          ? `${node.name} is fenced and ${what}: rebuilding it from ${primary.name}${extra.length ? ', discarding them' : ''}`
          : `${node.name} is fenced and ${what}: rebuild it from the primary (REBUILD_ERRANT=auto does it)`,
      );
      if (rebuild) this.startRebuild(rebuild, node, primary, gtids, token);
      return true;
    }
    if (!this.d.rejoinFenced || view.replication) return false;
    this.rejoining.add(node.name);
    await this.d.admin.replicate(node, primary, true);
    this.d.logger.warn(
      { node: node.name, primary: primary.name, logged: view.binlogPos },
      `${node.name} is back: rejoining it as a replica of ${primary.name}`,
    );
    return true;
  }

  /**
   * Runs a rebuild beside the passes; a later pass publishes the node once it
   * replicates. It stops when `reset` aborts it or its guard fails.
   */
  private startRebuild(
    rebuild: NonNullable<ReconcilerDeps['rebuild']>,
    node: NodeAddress,
    primary: NodeAddress,
    errant: string[],
    token: number,
  ): void {
    this.d.logger.warn(
      { node: node.name, primary: primary.name, gtids: errant, token },
      `rebuilding ${node.name} from ${primary.name}: discarding ${errant.join(',') || 'what it holds'}`,
    );
    const stop = new AbortController();
    const guard: RebuildGuard = {
      signal: stop.signal,
      check: () => this.rebuildStop(token, node, primary),
    };
    const done = rebuild(node, primary, guard).then(
      (r) =>
        this.d.logger.warn(
          { node: node.name, primary: primary.name, discarded: errant, ...r },
          `${node.name} rebuilt from ${primary.name} in ${r.ms} ms (${r.rows} rows, ${r.tables} tables): replicating from ${r.snapshotPos}`,
        ),
      (err: Error) =>
        err instanceof RebuildStoppedError
          ? this.d.logger.warn(
              { node: node.name, primary: primary.name, token, why: err.why, at: err.at },
              `${err.message}: ${node.name} stays fenced and read-only, marked half-rebuilt; the leader rebuilds it again`,
            )
          : this.d.logger.error(
              { node: node.name, primary: primary.name, err: err.message },
              `rebuilding ${node.name} failed: ${err.message} (tried again on a later pass)`,
            ),
    );
    this.rebuilding.set(node.name, {
      done: done.finally(() => this.rebuilding.delete(node.name)),
      stop,
    });
  }

  /**
   * Why a rebuild begun for `token` from `primary` must stop now, if it must:
   * the fencing token is no longer this agent's (in the election, or on the
   * published topology, where a newer leader records its own), or the
   * published topology no longer has `primary` as its primary and `node` fenced.
   */
  private async rebuildStop(
    token: number,
    node: NodeAddress,
    primary: NodeAddress,
  ): Promise<string | undefined> {
    if (!stillLeads(this.d.election, token)) return 'leadership lost';
    const current = await this.d.store.current();
    if (!current) return 'no topology published';
    if (current.token > token)
      return `leadership lost (token ${current.token} recorded on the topology, this rebuild's is ${token})`;
    const topo = current.topology;
    if (topo.primary.name !== primary.name)
      return `primary changed (${primary.name} -> ${topo.primary.name}, epoch ${topo.epoch})`;
    if (!topo.fenced?.includes(node.name))
      return `${node.name} is no longer fenced (epoch ${topo.epoch})`;
    return undefined;
  }

  /** Waits for the rebuilds under way (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.rebuilding.values()].map((r) => r.done));
  }

  private async viewsOf(nodes: NodeAddress[]): Promise<NodeView[]> {
    const views = await Promise.all(nodes.map((n) => this.d.admin.view(n).catch(() => undefined)));
    return views.filter((v): v is NodeView => v !== undefined);
  }

  /** Holds a concern and logs it once (again only after its text changed); dated from when its kind first showed. */
  private concern(raised: Raised, text: string): void {
    const key = keyOf(raised);
    this.touched.add(key);
    const was = this.held.get(key);
    if (was && was.kind !== raised.kind) this.cleared(was);
    const since =
      was?.kind === raised.kind ? was.since : (this.d.clock?.() ?? new Date()).toISOString();
    this.held.set(key, { ...raised, since, text });
    if (was?.text !== text) this.d.logger.warn({ node: raised.node, concern: raised.kind }, text);
  }

  /** Drops the concerns this pass neither raised nor left standing. */
  private sweep(): void {
    for (const [key, c] of this.held)
      if (!this.touched.has(key)) {
        this.held.delete(key);
        this.cleared(c);
      }
  }

  private cleared(c: TopologyConcern): void {
    if (c.kind !== 'errant-gtids') return;
    const rejoining = c.node !== undefined && this.rejoining.has(c.node);
    this.d.logger.info(
      { node: c.node, concern: c.kind, gtids: c.gtids, primary: c.primary },
      `${c.node} no longer holds errant transactions${rejoining ? '; rejoining' : ''}`,
    );
  }
}
