/**
 * The coordinator behind one interface (docs/patterns/coordinator.md): Redis
 * now, etcd next (its leases, `Election` and `Lock` map one to one), each
 * passing the same contract tests.
 */
import { LeaderElection } from '../election/leader-election';
import { LeaderElectionOptions } from '../election/lease-election.base';
import { FencedResource } from '../fencing/fenced-resource';
import { FlagStore } from '../flags/flag-store';
import { DistributedLock, LockOptions } from '../lock/lock';

export interface CoordinationBackend {
  /** A candidate in the election `name` (not started: call `start()`). */
  election(name: string, options?: LeaderElectionOptions): LeaderElection;
  /** The lock `name`. */
  lock(name: string, options?: LockOptions): DistributedLock;
  /** The central store of feature flags (wrap it in FeatureFlags to read). */
  flagStore(): FlagStore;
  /** A value guarded by fencing tokens (an example resource; services fence in SQL). */
  fencedResource(name: string): FencedResource;
  /** Stops every election (resigning) and closes connections. */
  close(): Promise<void>;
}
