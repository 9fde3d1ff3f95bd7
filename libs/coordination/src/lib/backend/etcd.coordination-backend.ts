/**
 * The coordinator on a 3-member etcd cluster, the quorum store
 * (docs/patterns/coordinator.md, "etcd"): every write is committed by a
 * majority through Raft, leases are expired by the cluster itself, and a key's
 * create revision is a fencing token. It keeps working while a majority lives;
 * without one it refuses writes rather than risk two leaders.
 */
import { Etcd3 } from 'etcd3';
import { CoordinationBackend } from './coordination-backend';
import { LeaderElection } from '../election/leader-election';
import { LeaderElectionOptions } from '../election/lease-election.base';
import { CoordinationLogger, silentLogger } from '../logger';
import { LockOptions } from '../lock/lock';
import { connectEtcd, EtcdConnectOptions, EtcdTarget } from '../etcd/etcd-target';
import { EtcdFencedResource } from '../fencing/etcd.fenced-resource';
import { EtcdFlagStore } from '../flags/etcd.flag-store';
import { EtcdLeaderElection } from '../election/etcd.leader-election';
import { EtcdLock } from '../lock/etcd.lock';

export interface EtcdCoordinationOptions extends EtcdConnectOptions {
  etcd: EtcdTarget;
  /** Key prefix. Default `/stayline/coord`. */
  prefix?: string;
  logger?: CoordinationLogger;
}

export class EtcdCoordinationBackend implements CoordinationBackend {
  readonly client: Etcd3;
  private flags?: EtcdFlagStore;
  private readonly elections = new Set<LeaderElection>();
  private readonly prefix: string;
  private readonly logger: CoordinationLogger;

  constructor(options: EtcdCoordinationOptions) {
    this.prefix = options.prefix ?? '/stayline/coord';
    this.logger = options.logger ?? silentLogger;
    this.client = connectEtcd(options.etcd, options);
  }

  election(name: string, options: LeaderElectionOptions = {}): EtcdLeaderElection {
    const election = new EtcdLeaderElection(name, this.client, this.prefix, {
      logger: this.logger,
      ...options,
    });
    this.elections.add(election);
    return election;
  }

  lock(name: string, options: LockOptions = {}): EtcdLock {
    return new EtcdLock(name, this.client, `${this.prefix}/lock/${name}`, options);
  }

  flagStore(): EtcdFlagStore {
    this.flags ??= new EtcdFlagStore(this.client, this.prefix, this.logger);
    return this.flags;
  }

  fencedResource(name: string): EtcdFencedResource {
    return new EtcdFencedResource(this.client, `${this.prefix}/fenced/${name}`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.elections].map((e) => e.stop()));
    this.elections.clear();
    this.client.close();
  }
}
