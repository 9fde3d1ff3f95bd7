/**
 * Automated failover of MariaDB, driven through the coordinator (the seed's
 * "Failover" section; docs/patterns/failover.md). Several agents run; the
 * leader-elected one acts, carrying its fencing token in every action. Every
 * agent probes the primary (so a successor starts with a warm view), follows
 * the published topology and registers the datastores in discovery.
 */
import {
  CoordinationBackend,
  keepTrying,
  LeaderElection,
  unrefTimeout,
} from '@stayline/coordination';
import type { NodeAddress, Topology } from '@stayline/database';
import type { ServiceRegistry } from '@stayline/discovery';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config';
import type { TopologyStore } from '../coordinator/topology-store';
import type { AgentHealth, FailoverReport } from '@stayline/contracts';
import { DeposedError, FailoverUseCase } from '../failover/failover.use-case';
import { PausePoints } from '../failover/pause-points';
import { PrimaryDetector, PrimaryHealth, PrimaryState } from '../failover/primary-detector';
import { SwitchoverUseCase } from '../failover/switchover.use-case';
import { TopologyReconciler } from '../failover/topology-reconciler';
import type { MariaDbAdmin, NodeView } from '../mariadb/mariadb-admin';
import { rebuildFrom } from '../mariadb/rebuild';
import type { RedisNodes, RedisRole } from '../redis/redis-nodes';
import { DatastoreEntry, DatastoreRegistrar } from '../registration/datastore-registrar';
import type { Stonith } from '../stonith/stonith';
import { agentMetrics, SEMI_SYNC_REASONS, SemiSyncReason } from './agent-metrics';

export interface FailoverAgentDeps {
  config: AgentConfig;
  logger: Logger;
  coordination: CoordinationBackend;
  registry: ServiceRegistry;
  store: TopologyStore;
  admin: MariaDbAdmin;
  stonith: Stonith;
  redisNodes: RedisNodes;
}

/** Semi-sync on the primary as last surveyed. */
export interface SemiSyncHealth {
  ok: boolean;
  reason?: SemiSyncReason;
  clients?: number;
  waitSessions?: number;
}

export class FailoverAgent {
  readonly election: LeaderElection;
  readonly pauses: PausePoints;
  private readonly detector: PrimaryDetector;
  private readonly failover: FailoverUseCase;
  private readonly switchover: SwitchoverUseCase;
  private readonly reconciler: TopologyReconciler;
  private readonly registrar: DatastoreRegistrar;
  private readonly log: Logger;
  private topology?: Topology;
  private members: NodeAddress[] = [];
  private busy?: Promise<unknown>;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopWatch?: () => Promise<void>;
  private stopped = false;
  private lastReport: Partial<Record<'failover' | 'switchover', FailoverReport>> = {};
  private semiSync: SemiSyncHealth = { ok: false };
  private redisRoles: Record<string, RedisRole> = {};

  constructor(private readonly d: FailoverAgentDeps) {
    const c = d.config;
    this.log = d.logger;
    this.election = d.coordination.election('failover-agent.mariadb', {
      ttlMs: c.ELECTION_TTL_MS,
      candidateId: c.AGENT_ID,
      logger: d.logger,
    });
    this.pauses = new PausePoints({
      enabled: c.FAILOVER_PAUSE_POINTS,
      maxMs: c.FAILOVER_PAUSE_MS,
      releaseFile: c.FAILOVER_PAUSE_FILE,
      logger: d.logger,
    });
    this.detector = new PrimaryDetector({ admin: d.admin, failures: c.PROBE_FAILURES });
    this.detector.on('transition', (s, prev) => this.onTransition(s, prev));
    const common = { admin: d.admin, store: d.store, agentId: c.AGENT_ID, logger: d.logger };
    this.failover = new FailoverUseCase({
      ...common,
      stonith: d.stonith,
      pauses: this.pauses,
      election: this.election,
      catchUpTimeoutMs: c.CATCH_UP_TIMEOUT_MS,
      semiSyncWaitMs: c.SEMI_SYNC_WAIT_MS,
    });
    this.switchover = new SwitchoverUseCase({
      ...common,
      failover: this.failover,
      timeoutMs: c.SWITCHOVER_TIMEOUT_MS,
    });
    this.reconciler = new TopologyReconciler({
      ...common,
      election: this.election,
      nodes: async () => this.nodes(),
      rejoinFenced: c.REJOIN_FENCED === 'auto',
      rebuild:
        c.REBUILD_ERRANT === 'auto'
          ? (node, primary, guard) => rebuildFrom(d.admin, node, primary, guard)
          : undefined,
    });
    this.registrar = new DatastoreRegistrar(d.registry, c.AGENT_ID, d.logger);
  }

  async start(): Promise<void> {
    const c = this.d.config;
    this.log.info(
      {
        agentId: c.AGENT_ID,
        nodes: c.MARIADB_NODES.map((n) => n.name),
        probeIntervalMs: c.PROBE_INTERVAL_MS,
        probeTimeoutMs: c.PROBE_TIMEOUT_MS,
        probeFailures: c.PROBE_FAILURES,
        electionTtlMs: c.ELECTION_TTL_MS,
        autoFailover: c.AUTO_FAILOVER,
        stonith: this.d.stonith.kind,
        pausePoints: c.FAILOVER_PAUSE_POINTS,
      },
      'failover agent starting',
    );
    this.election.on('elected', (token) => {
      agentMetrics.leader.set(1);
      this.log.info({ token }, 'elected: this agent acts from now on');
      // fence the previous leader at once, not only from this agent's first publish
      this.d.store.claim(token).then(
        (claimed) => claimed && this.log.info({ token }, 'fencing token recorded on the topology'),
        (err: Error) => this.log.warn({ err: err.message }, 'could not record the fencing token'),
      );
    });
    this.election.on('deposed', (token, reason) => {
      agentMetrics.leader.set(0);
      this.reconciler.reset(); // the next leader reports its own concerns and rebuilds what this one stopped
      this.log.warn({ token, reason }, 'deposed: this agent stops acting');
    });
    // a coordinator that does not answer yet (a loaded host, Redis still electing) delays the start, never ends it
    const retry = (what: string) => ({
      retryMs: 1_000,
      stopped: () => this.stopped,
      onFailure: (err: Error, attempt: number) =>
        this.log.warn({ err: err.message, attempt }, `cannot ${what} yet; retrying`),
    });
    this.stopWatch = await keepTrying(
      () => this.d.store.watch((t) => this.follow(t)),
      retry('follow the topology'),
    );
    await keepTrying(
      // a start that failed half-way is undone, so the next one campaigns from scratch
      () =>
        this.election.start().catch(async (err: unknown) => {
          await this.election.stop().catch(() => undefined);
          throw err;
        }),
      retry('campaign'),
    );
    if (this.stopped) {
      // stopped while starting: stop() found no watch yet to end
      await this.stopWatch?.().catch(() => undefined);
      return;
    }
    this.loop('probe', c.PROBE_INTERVAL_MS, () => this.probe());
    this.loop('reconcile', c.RECONCILE_INTERVAL_MS, () => this.reconcile());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.forEach((t) => clearTimeout(t));
    await this.busy?.catch(() => undefined);
    await this.election.stop(); // resign: the other agent takes over at once
    await this.registrar.release(); // entries stay: the other agents renew them
    await this.stopWatch?.().catch(() => undefined);
  }

  /** The primary as this agent sees it. */
  get primary(): PrimaryState {
    return this.detector.state;
  }

  /** Everything /health shows. */
  status(): Omit<AgentHealth, 'status'> {
    const state = this.election.state;
    const degraded = [
      ...(this.semiSync.ok ? [] : [`semi-sync: ${this.semiSync.reason ?? 'unknown'}`]),
      ...(this.detector.state.health === PrimaryHealth.Up
        ? []
        : [`primary ${this.detector.state.health}`]),
      ...(this.topology ? [] : ['no topology published']),
    ];
    return {
      agentId: this.d.config.AGENT_ID,
      role: state.status === 'leader' ? 'leader' : 'follower',
      token: this.election.token,
      leaderId: state.status === 'follower' ? state.leaderId : this.d.config.AGENT_ID,
      degraded,
      epoch: this.topology?.epoch ?? 0,
      topology: this.topology,
      primary: this.detector.state,
      semiSync: this.semiSync,
      lastFailover: this.lastReport.failover,
      lastSwitchover: this.lastReport.switchover,
      acting: Boolean(this.busy),
      paused: this.pauses.paused,
      stonith: this.d.stonith.kind,
      redis: this.redisRoles,
      concerns: state.status === 'leader' ? this.reconciler.concerns() : undefined,
    };
  }

  /** A planned switchover to `target` (or the best replica); leader only. */
  async plannedSwitchover(target?: string): Promise<FailoverReport> {
    const token = this.election.token;
    if (token === undefined) throw new NotLeaderError(this.status().leaderId);
    return this.act('switchover', async () => {
      const current = await this.d.store.current();
      if (!current) throw new Error('no topology published yet');
      return this.switchover.run(current, token, target);
    });
  }

  /** Adds a node built at run time (`stack:add-replica`); it joins the topology once it replicates. Leader only. */
  async addNode(node: NodeAddress): Promise<void> {
    if (this.election.token === undefined) throw new NotLeaderError(this.status().leaderId);
    await this.d.store.addMember(node);
    this.members = await this.d.store.members();
    this.log.info({ node }, `${node.name} added to the cluster's members`);
    await this.reconcile();
  }

  private follow(t: Topology): void {
    this.topology = t;
    agentMetrics.epoch.set(t.epoch);
    this.detector.target(t.primary, t.replicas);
  }

  private async probe(): Promise<void> {
    const state = await this.detector.probe();
    agentMetrics.primaryUp.set(state.health === PrimaryHealth.Up ? 1 : 0);
    const token = this.election.token;
    if (state.health !== PrimaryHealth.Dead || token === undefined || this.busy) return;
    if (!this.d.config.AUTO_FAILOVER) return;
    const detectionMs = Math.round(state.declaredAt - state.firstFailureAt);
    const reason = `${state.failures} failed probes (${state.error}); replicas: ${Object.entries(
      state.replicas,
    )
      .map(([r, v]) => `${r} ${v}`)
      .join(', ')}`;
    // failures are logged by act(); the next probe decides again
    this.act('failover', async () => {
      const current = await this.d.store.current();
      if (!current || current.topology.primary.name !== state.primary) return undefined; // already done
      this.log.warn({ primary: state.primary, detectionMs, token }, `failing over: ${reason}`);
      const report = await this.failover.run(current, token, reason);
      report.detectionMs = detectionMs;
      agentMetrics.lastDetection.set(detectionMs);
      return report;
    }).catch(() => undefined);
  }

  private async reconcile(): Promise<void> {
    const nodes = await this.refreshMembers();
    const views = await this.survey(nodes);
    this.trackSemiSync(views);
    const token = this.election.token;
    if (token !== undefined && !this.busy) {
      await this.act('reconcile', async () => {
        const current = await this.d.store.current();
        if (!current) await this.reconciler.ensurePublished(token);
        else await this.reconciler.reconcile(current, token, nodes, views);
        return undefined;
      }).catch(() => undefined);
    }
    await this.register(nodes, views).catch((err: Error) =>
      this.log.warn({ err: err.message }, 'datastore registration failed; retrying'),
    );
  }

  /** Runs one action at a time, logging it once; a deposed leader's action stops quietly. */
  private act(
    kind: 'failover' | 'switchover' | 'reconcile',
    work: () => Promise<FailoverReport | undefined>,
  ): Promise<FailoverReport> {
    const run = (async () => {
      try {
        const report = await work();
        if (report) this.done(report);
        return report as FailoverReport;
      } catch (err) {
        const deposed = err instanceof DeposedError;
        if (kind !== 'reconcile')
          agentMetrics.actions.inc({ kind, outcome: deposed ? 'deposed' : 'failed' });
        this.log[deposed ? 'warn' : 'error'](
          { kind, err: (err as Error).message },
          `${kind} stopped`,
        );
        throw err;
      } finally {
        this.busy = undefined;
      }
    })();
    this.busy = run.catch(() => undefined);
    return run;
  }

  private done(report: FailoverReport): void {
    this.lastReport[report.kind] = report;
    agentMetrics.actions.inc({ kind: report.kind, outcome: 'done' });
    agentMetrics.lastDuration.set({ kind: report.kind }, report.totalMs);
    this.log.warn(
      report,
      `${report.kind} done: ${report.from} -> ${report.to}, epoch ${report.epoch}, ${report.totalMs} ms` +
        (report.detectionMs !== undefined ? ` (+ ${report.detectionMs} ms detection)` : ''),
    );
  }

  private onTransition(s: PrimaryState, prev: PrimaryState): void {
    const from = { primary: s.primary, from: prev.health, to: s.health };
    if (s.health === PrimaryHealth.Up || s.health === PrimaryHealth.Unknown)
      this.log.info(from, `primary ${s.primary} ${s.health}`);
    else if (s.health === PrimaryHealth.Suspect)
      this.log.warn({ ...from, error: s.error }, `primary ${s.primary} did not answer a probe`);
    else if (s.health === PrimaryHealth.Unconfirmed)
      this.log.warn(
        { ...from, failures: s.failures, replicas: s.replicas },
        `primary ${s.primary} unanswered ${s.failures} times but not confirmed by the replicas: no failover`,
      );
    else
      this.log.error(
        {
          ...from,
          failures: s.failures,
          replicas: s.replicas,
          detectionMs: Math.round(s.declaredAt - s.firstFailureAt),
        },
        `primary ${s.primary} declared dead`,
      );
  }

  private async refreshMembers(): Promise<NodeAddress[]> {
    this.members = await this.d.store.members().catch(() => this.members);
    return this.nodes();
  }

  /** Configured nodes, members added at run time and whatever the topology names. */
  private nodes(): NodeAddress[] {
    const all = new Map<string, NodeAddress>();
    const t = this.topology;
    for (const n of [
      ...this.d.config.MARIADB_NODES,
      ...this.members,
      ...(t ? [t.primary, ...t.replicas] : []),
    ])
      all.set(n.name, n);
    return [...all.values()];
  }

  private async survey(nodes: NodeAddress[]): Promise<Map<string, NodeView>> {
    const views = await Promise.all(nodes.map((n) => this.d.admin.view(n).catch(() => undefined)));
    return new Map(views.filter((v): v is NodeView => v !== undefined).map((v) => [v.name, v]));
  }

  private trackSemiSync(views: Map<string, NodeView>): void {
    const primary = this.topology && views.get(this.topology.primary.name);
    const s = primary?.semiSync;
    let reason: SemiSyncReason | undefined;
    if (s && !s.enabled) reason = 'semi-sync-off';
    else if (s && !s.active) reason = 'fell-back-to-async';
    else if (s && s.clients === 0) reason = 'no-replica-attached';
    const next: SemiSyncHealth = s
      ? { ok: !reason, reason, clients: s.clients, waitSessions: s.waitSessions }
      : { ok: false };
    if (next.reason !== this.semiSync.reason && s)
      this.log[reason ? 'error' : 'info'](
        { primary: primary?.name, ...next },
        reason
          ? `semi-sync degraded on ${primary?.name} (${reason}): writes wait for a replica and fail, none is lost`
          : `semi-sync healthy again on ${primary?.name}`,
      );
    this.semiSync = next;
    for (const r of SEMI_SYNC_REASONS)
      agentMetrics.semiSyncDegraded.set({ reason: r }, r === reason ? 1 : 0);
    agentMetrics.semiSyncClients.set(s?.clients ?? 0);
  }

  private async register(nodes: NodeAddress[], views: Map<string, NodeView>): Promise<void> {
    const t = this.topology;
    const live: DatastoreEntry[] = [];
    const down: Array<Pick<DatastoreEntry, 'service' | 'id'>> = [];
    for (const n of nodes) {
      const role =
        t?.primary.name === n.name
          ? 'primary'
          : t?.replicas.some((r) => r.name === n.name)
            ? 'replica'
            : undefined;
      if (role && views.has(n.name))
        live.push({ service: 'mariadb', id: n.name, host: n.host, port: n.port, role });
      else if (t) down.push({ service: 'mariadb', id: n.name });
    }
    this.redisRoles = await this.d.redisNodes.roles();
    for (const n of this.d.redisNodes.all) {
      const role = this.redisRoles[n.name];
      if (role === 'down') down.push({ service: 'redis', id: n.name });
      else live.push({ service: 'redis', id: n.name, host: n.host, port: n.port, role });
    }
    await this.registrar.reconcile(live, down, this.election.token !== undefined);
  }

  /** A self-rescheduling loop (no overlap), jitter-free: the probe period is the detection budget. */
  private loop(name: string, ms: number, fn: () => Promise<void>): void {
    const run = async () => {
      if (this.stopped) return;
      await fn().catch((err: Error) =>
        this.log.warn({ loop: name, err: err.message }, 'agent loop error'),
      );
      if (!this.stopped) this.timers.set(name, unrefTimeout(run, ms));
    };
    this.timers.set(name, unrefTimeout(run, 0));
  }
}

/** The action needs the leader. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  constructor(readonly leaderId?: string) {
    super(`this agent does not lead${leaderId ? `; the leader is ${leaderId}` : ''}`);
  }
}
