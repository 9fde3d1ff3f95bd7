import { EventEmitter } from 'node:events';
import { errorText } from './errors';
import { GtidPosition, hasReached } from '@stayline/contracts';
import { NodeProbe } from './node-probe';
import { PositionHistory } from './position-history';
import { ReplicaHealth, ReplicaState, ReplicaTransition } from './replica-state';
import { NodeAddress } from './topology';

/** Settings of a {@link LagMonitor}. */
export interface LagMonitorOptions {
  /** A replica further behind than this is skipped. */
  maxLagMs: number;
  /** Pause between probe rounds (jittered by ±20 %). */
  intervalMs: number;
  /** Opens the probe of one node. */
  probeFor: (node: NodeAddress) => NodeProbe;
  /** Monotonic milliseconds; injected by tests. */
  clock?: () => number;
}

/** The primary as the monitor last saw it. */
export interface PrimaryState {
  name: string;
  reachable: boolean;
  readOnly?: boolean;
  position?: GtidPosition;
  error?: string;
}

interface Events {
  /** A replica's health changed. */
  transition: [ReplicaTransition];
  /** A probe round finished. */
  probed: [];
}

/**
 * Watches replication lag continuously: every round reads the primary's
 * `@@gtid_binlog_pos` and each replica's applied position and SQL thread,
 * and classifies each replica (see {@link ReplicaHealth}). A round waits for all
 * probes, each bounded by its own short timeout, so a frozen node slows no one.
 */
export class LagMonitor extends EventEmitter<Events> {
  private readonly clock: () => number;
  private readonly history = new PositionHistory();
  private readonly probes = new Map<string, NodeProbe>();
  private readonly states = new Map<string, ReplicaState>();
  private primaryAddress?: NodeAddress;
  private replicaNames: string[] = [];
  private primaryState?: PrimaryState;
  private round?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly options: LagMonitorOptions) {
    super();
    this.clock = options.clock ?? (() => performance.now());
  }

  /** Watches these nodes from now on; a new primary starts a new position history. */
  setTopology(primary: NodeAddress, replicas: NodeAddress[]): void {
    if (this.primaryAddress?.name !== primary.name) {
      this.history.clear();
      this.primaryState = undefined;
    }
    const wanted = new Map([primary, ...replicas].map((n) => [n.name, n]));
    for (const [name, probe] of this.probes) {
      if (!wanted.has(name)) {
        probe.close();
        this.probes.delete(name);
      }
    }
    for (const [name, node] of wanted)
      if (!this.probes.has(name)) this.probes.set(name, this.options.probeFor(node));
    for (const name of this.states.keys())
      if (!replicas.some((r) => r.name === name)) this.states.delete(name);
    // a node that was primary a moment ago has no replica state to trust
    if (this.primaryAddress && replicas.some((r) => r.name === this.primaryAddress?.name))
      this.states.delete(this.primaryAddress.name);
    this.primaryAddress = primary;
    this.replicaNames = replicas.map((r) => r.name);
  }

  /** Probes every `intervalMs` until {@link stop}. */
  start(): void {
    this.running = true;
    this.schedule();
  }

  /** Stops probing and closes every probe connection. */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    for (const probe of this.probes.values()) probe.close();
    this.probes.clear();
  }

  /** One probe round now (joins the running one, if any). */
  probe(): Promise<void> {
    this.round ??= this.probeAll().finally(() => (this.round = undefined));
    return this.round;
  }

  /** A replica's last state (undefined before its first probe). */
  replica(name: string): ReplicaState | undefined {
    return this.states.get(name);
  }

  /** Every watched replica's state. */
  replicas(): Array<{ name: string; state: ReplicaState | undefined }> {
    return this.replicaNames.map((name) => ({ name, state: this.states.get(name) }));
  }

  /** The primary's last state. */
  primary(): PrimaryState | undefined {
    return this.primaryState;
  }

  /** Whether the replica is known to have applied `target` already (no wait needed). */
  hasApplied(name: string, target: GtidPosition): boolean {
    const s = this.states.get(name);
    return s !== undefined && 'position' in s && hasReached(s.position, target);
  }

  /** Takes a replica out of rotation at once (a read on it failed); its next good probe brings it back. */
  markUnreachable(name: string, err: unknown): void {
    if (this.replicaNames.includes(name)) {
      this.set(name, {
        health: ReplicaHealth.Unreachable,
        error: errorText(err),
        since: this.clock(),
      });
    }
  }

  private schedule(): void {
    if (!this.running) return;
    const jitter = 0.8 + Math.random() * 0.4;
    this.timer = setTimeout(
      () => void this.probe().finally(() => this.schedule()),
      this.options.intervalMs * jitter,
    );
    this.timer.unref();
  }

  private async probeAll(): Promise<void> {
    const primary = this.primaryAddress;
    if (!primary) return;
    // the primary first: replicas are compared with what it had by then
    await this.probePrimary(primary);
    await Promise.all(this.replicaNames.map((name) => this.probeReplica(name)));
    this.emit('probed');
  }

  private async probePrimary(node: NodeAddress): Promise<void> {
    const probe = this.probes.get(node.name);
    if (!probe) return;
    try {
      const s = await probe.primary();
      this.history.record(s.position, this.clock());
      this.primaryState = {
        name: node.name,
        reachable: true,
        readOnly: s.readOnly,
        position: s.position,
      };
    } catch (err) {
      this.primaryState = { name: node.name, reachable: false, error: errorText(err) };
    }
  }

  private async probeReplica(name: string): Promise<void> {
    const probe = this.probes.get(name);
    if (!probe) return;
    try {
      const s = await probe.replica();
      const now = this.clock();
      const applying = {
        position: s.position,
        lagMs: this.history.lagMs(s.position, now),
        since: now,
      };
      if (!s.sqlRunning) {
        this.set(name, {
          health: ReplicaHealth.Stopped,
          reason: s.problem ?? 'SQL thread stopped',
          ...applying,
        });
      } else if (applying.lagMs > this.options.maxLagMs) {
        this.set(name, { health: ReplicaHealth.Lagging, ...applying });
      } else {
        this.set(name, { health: ReplicaHealth.Usable, ...applying });
      }
    } catch (err) {
      this.set(name, {
        health: ReplicaHealth.Unreachable,
        error: errorText(err),
        since: this.clock(),
      });
    }
  }

  private set(name: string, next: ReplicaState): void {
    if (!this.replicaNames.includes(name)) return; // dropped by a topology change meanwhile
    const prev = this.states.get(name);
    const state = prev?.health === next.health ? { ...next, since: prev.since } : next;
    this.states.set(name, state);
    if (prev?.health !== next.health)
      this.emit('transition', { replica: name, from: prev?.health, to: state });
  }
}
