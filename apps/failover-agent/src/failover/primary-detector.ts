/**
 * Failure detection of the MariaDB primary (docs/patterns/failover.md). The
 * agent probes it every interval; after `failures` consecutive failed probes it
 * asks the replicas, whose IO threads hold a connection to the primary with a
 * 0.5 s heartbeat and a 2 s `slave_net_timeout`: the primary is declared dead
 * only when no reachable replica is connected to it any more. An agent that
 * merely lost its own path to a healthy primary therefore never fails it over,
 * and a frozen primary (SIGSTOP) is declared dead once its heartbeats stop.
 */
import { EventEmitter } from 'node:events';
import type { NodeAddress } from '@stayline/database';
import type { MariaDbAdmin, NodeView } from '../mariadb/mariadb-admin';

export enum PrimaryHealth {
  /** Not probed yet (or the primary just changed). */
  Unknown = 'unknown',
  /** The last probe answered. */
  Up = 'up',
  /** Some probes failed; fewer than the threshold. */
  Suspect = 'suspect',
  /** Enough probes failed, but a replica is still connected to it (or none can be asked): no failover. */
  Unconfirmed = 'unconfirmed',
  /** Enough probes failed and every reachable replica lost it too. */
  Dead = 'dead',
}

/** What each replica said about the primary: `connected`, `lost (Connecting)`, `unreachable`... */
export type ReplicaVerdicts = Record<string, string>;

export type PrimaryState =
  | { health: PrimaryHealth.Unknown; primary: string }
  | { health: PrimaryHealth.Up; primary: string; since: number }
  | {
      health: PrimaryHealth.Suspect;
      primary: string;
      failures: number;
      firstFailureAt: number;
      error: string;
    }
  | {
      health: PrimaryHealth.Unconfirmed;
      primary: string;
      failures: number;
      firstFailureAt: number;
      error: string;
      replicas: ReplicaVerdicts;
    }
  | {
      health: PrimaryHealth.Dead;
      primary: string;
      failures: number;
      firstFailureAt: number;
      declaredAt: number;
      error: string;
      replicas: ReplicaVerdicts;
    };

export interface DetectorEvents {
  transition: [state: PrimaryState, previous: PrimaryState];
}

export interface PrimaryDetectorOptions {
  admin: Pick<MariaDbAdmin, 'ping' | 'view'>;
  /** Consecutive failed probes before the replicas are asked. */
  failures: number;
  /** Monotonic milliseconds. */
  now?: () => number;
}

export class PrimaryDetector extends EventEmitter<DetectorEvents> {
  private current: PrimaryState = { health: PrimaryHealth.Unknown, primary: '' };
  private primary?: NodeAddress;
  private replicas: NodeAddress[] = [];
  private readonly now: () => number;

  constructor(private readonly o: PrimaryDetectorOptions) {
    super();
    this.now = o.now ?? (() => performance.now());
  }

  get state(): PrimaryState {
    return this.current;
  }

  /** Watches this primary from now on (state starts over when it changed). */
  target(primary: NodeAddress, replicas: NodeAddress[]): void {
    this.replicas = replicas;
    if (this.primary && sameNode(this.primary, primary)) return;
    this.primary = primary;
    this.transition({ health: PrimaryHealth.Unknown, primary: primary.name });
  }

  /** One probe (and, past the threshold, the replicas' view); returns the state after it. */
  async probe(): Promise<PrimaryState> {
    const primary = this.primary;
    if (!primary) return this.current;
    try {
      await this.o.admin.ping(primary);
      if (this.primary === primary && this.current.health !== PrimaryHealth.Up)
        this.transition({ health: PrimaryHealth.Up, primary: primary.name, since: this.now() });
      return this.current;
    } catch (err) {
      if (this.primary !== primary) return this.current;
      return this.failed(primary, (err as Error).message);
    }
  }

  private async failed(primary: NodeAddress, error: string): Promise<PrimaryState> {
    const prev = this.current;
    const failures = 'failures' in prev ? prev.failures + 1 : 1;
    const firstFailureAt = 'firstFailureAt' in prev ? prev.firstFailureAt : this.now();
    const base = { primary: primary.name, failures, firstFailureAt, error };
    if (failures < this.o.failures) {
      this.transition({ health: PrimaryHealth.Suspect, ...base });
      return this.current;
    }
    const replicas = await this.askReplicas(primary);
    if (this.primary !== primary) return this.current;
    const verdicts = Object.values(replicas);
    const confirmed = verdicts.some((v) => v.startsWith('lost')) && !verdicts.includes('connected');
    if (!confirmed) {
      this.transition({ health: PrimaryHealth.Unconfirmed, ...base, replicas });
    } else if (prev.health !== PrimaryHealth.Dead) {
      this.transition({ health: PrimaryHealth.Dead, ...base, declaredAt: this.now(), replicas });
    }
    return this.current;
  }

  private async askReplicas(primary: NodeAddress): Promise<ReplicaVerdicts> {
    const answers = await Promise.all(
      this.replicas.map(async (r) => {
        try {
          return [r.name, verdict(await this.o.admin.view(r), primary)] as const;
        } catch {
          return [r.name, 'unreachable'] as const;
        }
      }),
    );
    return Object.fromEntries(answers);
  }

  private transition(next: PrimaryState): void {
    const previous = this.current;
    this.current = next;
    // one event per change of health, not per probe
    if (previous.health !== next.health || previous.primary !== next.primary)
      this.emit('transition', next, previous);
  }
}

/** A replica's view of the primary: connected to it, or lost (and how). */
function verdict(view: NodeView, primary: NodeAddress): string {
  const r = view.replication;
  if (!r) return 'lost (not replicating)';
  if (r.masterHost !== primary.host || r.masterPort !== primary.port)
    return `lost (replicates from ${r.masterHost}:${r.masterPort})`;
  return r.io === 'Yes' ? 'connected' : `lost (IO thread ${r.io})`;
}

function sameNode(a: NodeAddress, b: NodeAddress): boolean {
  return a.name === b.name && a.host === b.host && a.port === b.port;
}
