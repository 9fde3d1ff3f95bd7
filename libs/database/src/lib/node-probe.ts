import { GtidPosition } from '@stayline/contracts';

/** What a primary's probe reads. */
export interface PrimaryStatus {
  /** `@@gtid_binlog_pos`: every transaction it committed. */
  position: GtidPosition;
  readOnly: boolean;
}

/** What a replica's probe reads (`SHOW ALL SLAVES STATUS`). */
export interface ReplicaStatus {
  /** `Gtid_Slave_Pos`: what it has applied. */
  position: GtidPosition;
  sqlRunning: boolean;
  ioRunning: boolean;
  /** Why it does not replicate, when it does not. */
  problem?: string;
}

/**
 * The lag monitor's view of one node: one cheap query, answered within a short
 * timeout or rejected. The MariaDB implementation is `MariaDbProbe`; tests inject fakes.
 */
export interface NodeProbe {
  primary(): Promise<PrimaryStatus>;
  replica(): Promise<ReplicaStatus>;
  /** Closes its connection for good. */
  close(): void;
}
