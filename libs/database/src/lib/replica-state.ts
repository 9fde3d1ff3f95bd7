import { GtidPosition } from '@stayline/contracts';

/** Whether a replica takes reads, as the lag monitor last saw it. */
export enum ReplicaHealth {
  /** Replicating and within the lag bound: takes reads. */
  Usable = 'usable',
  /** Replicating, but further behind the primary than the bound. Skipped. */
  Lagging = 'lagging',
  /** Its SQL thread is stopped (or it replicates from nobody): it applies nothing. Skipped. */
  Stopped = 'stopped',
  /** Its probe failed or timed out, or a read on it failed to connect. Skipped. */
  Unreachable = 'unreachable',
}

interface Seen {
  /** When this state began (ms, the monitor's clock). */
  since: number;
}

interface Applying extends Seen {
  /** Milliseconds behind the primary (see PositionHistory). */
  lagMs: number;
  /** What it has applied (`@@gtid_slave_pos`). */
  position: GtidPosition;
}

/** A replica's state, with the data each state carries. */
export type ReplicaState =
  | ({ health: ReplicaHealth.Usable } & Applying)
  | ({ health: ReplicaHealth.Lagging } & Applying)
  | ({ health: ReplicaHealth.Stopped; reason: string } & Applying)
  | ({ health: ReplicaHealth.Unreachable; error: string } & Seen);

/** A change of a replica's health, emitted by the lag monitor. */
export interface ReplicaTransition {
  replica: string;
  from: ReplicaHealth | undefined;
  to: ReplicaState;
}
