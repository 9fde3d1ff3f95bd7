/**
 * The MariaDB topology as the failover agents publish it and every reader
 * (the services' database layer, the launcher, the dashboard) reads it.
 */

/** Where the agents publish the topology (a Redis key, or an etcd key of that name). */
export const TOPOLOGY_KEY = 'stayline:topology:mariadb';

/** One MariaDB node, named as the launcher and the failover agent name it (`mariadb-2`). */
export interface NodeAddress {
  name: string;
  host: string;
  port: number;
}

/**
 * Who is primary and who replicates. The epoch only grows: a topology with an
 * epoch not newer than the current one is refused, so a delayed message can
 * never turn a fenced old primary back on.
 */
export interface Topology {
  epoch: number;
  primary: NodeAddress;
  replicas: NodeAddress[];
  /** Nodes that must not be used at all (a demoted primary before it rejoins). */
  fenced?: string[];
}
