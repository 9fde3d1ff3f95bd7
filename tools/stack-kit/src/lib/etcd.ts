import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './wait';
import { which } from './binaries';
import { httpJson } from './http-json';
import { ProcessSpec } from './process';
import { Component } from './state';

/**
 * A 3-node etcd cluster on loopback: the quorum coordinator (docs/patterns/coordinator.md).
 * Raft timings: heartbeat 100 ms, election timeout 1 s. Shorter election timeouts
 * make the cluster flap on a loaded 2-core machine. etcd's shortest lease is
 * 1.5 x the election timeout, rounded up to whole seconds: 2 s here.
 */
export const ETCD_HEARTBEAT_MS = 100;
export const ETCD_ELECTION_TIMEOUT_MS = 1_000;
export const ETCD_CLUSTER_TOKEN = 'stayline-etcd';

export interface EtcdNode {
  name: string;
  host: string;
  clientPort: number;
  peerPort: number;
  /** Logs and pid files (under the stack's state dir). */
  dir: string;
  /** The Raft log and snapshots: on tmpfs, so fsync never stalls heartbeats. */
  dataDir: string;
}

/** Where a stack keeps its etcd data: /dev/shm when there is one (tmpfs), else the node's dir. */
export function etcdDataDir(stateDir: string, name: string): string {
  if (!fs.existsSync('/dev/shm')) return path.join(stateDir, name, 'data');
  const id = crypto.createHash('sha1').update(path.resolve(stateDir)).digest('hex').slice(0, 10);
  return path.join('/dev/shm', `stayline-etcd-${id}`, name);
}

export function etcdClientUrl(node: { host: string; clientPort: number }): string {
  return `http://${node.host}:${node.clientPort}`;
}

export function etcdSpec(
  node: EtcdNode,
  cluster: EtcdNode[],
  options: { authTokenTtlS?: number } = {},
): ProcessSpec {
  fs.mkdirSync(node.dir, { recursive: true });
  fs.mkdirSync(path.dirname(node.dataDir), { recursive: true });
  const peer = (n: EtcdNode) => `http://${n.host}:${n.peerPort}`;
  return {
    command: which('etcd'),
    args: [
      '--name',
      node.name,
      '--data-dir',
      node.dataDir,
      '--listen-client-urls',
      etcdClientUrl(node),
      '--advertise-client-urls',
      etcdClientUrl(node),
      '--listen-peer-urls',
      peer(node),
      '--initial-advertise-peer-urls',
      peer(node),
      '--initial-cluster',
      cluster.map((n) => `${n.name}=${peer(n)}`).join(','),
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      ETCD_CLUSTER_TOKEN,
      '--heartbeat-interval',
      String(ETCD_HEARTBEAT_MS),
      '--election-timeout',
      String(ETCD_ELECTION_TIMEOUT_MS),
      '--pre-vote=true',
      // auth (users and roles: libs/contracts etcd-auth.ts) uses simple tokens, which live
      // in each member's memory and lapse after this many seconds without use
      '--auth-token',
      'simple',
      '--auth-token-ttl',
      String(options.authTokenTtlS ?? 300),
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
    ],
    logFile: path.join(node.dir, 'etcd.log'),
  };
}

/** Removes the tmpfs data of a stack's etcd members (their logs stay in the state dir). */
export function removeEtcdData(components: Pick<Component, 'kind' | 'meta'>[]): void {
  for (const c of components) {
    if (c.kind !== 'etcd' || typeof c.meta?.dataDir !== 'string') continue;
    fs.rmSync(c.meta.dataDir, { recursive: true, force: true });
    const parent = path.dirname(c.meta.dataDir);
    if (parent.startsWith('/dev/shm/stayline-etcd-')) {
      try {
        fs.rmdirSync(parent); // the last member's removal empties it
      } catch {
        // other members' data still there
      }
    }
  }
}

export interface EtcdMemberStatus {
  /** This member's id (hex). */
  member: string;
  /** The leader's id (hex) as this member sees it; undefined without a leader. */
  leader?: string;
  /** `/health`: true when the member has a leader and can serve a linearizable read. */
  healthy: boolean;
  raftTerm?: number;
}

const hex = (id: unknown) => (id ? BigInt(String(id)).toString(16) : undefined);

/** One member's view, over its HTTP gateway (`/health`, `/v3/maintenance/status`): no client needed. */
export async function etcdMemberStatus(
  node: { host: string; clientPort: number },
  timeoutMs = 1_500,
): Promise<EtcdMemberStatus> {
  const base = etcdClientUrl(node);
  const [status, health] = await Promise.all([
    httpJson(`${base}/v3/maintenance/status`, { method: 'POST', body: '{}', timeoutMs }),
    httpJson(`${base}/health`, { timeoutMs }).catch(() => undefined),
  ]);
  const s = status.body as {
    header?: { member_id?: string; raft_term?: string };
    leader?: string;
  };
  const leader = s?.leader && s.leader !== '0' ? hex(s.leader) : undefined;
  return {
    member: hex(s?.header?.member_id) ?? '?',
    leader,
    healthy: (health?.body as { health?: string } | undefined)?.health === 'true',
    raftTerm: Number(s?.header?.raft_term ?? 0),
  };
}

/** Waits until every member answers healthy and they agree on one leader. */
export async function waitEtcdCluster(nodes: EtcdNode[], timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `etcd cluster of ${nodes.length} to elect a leader`,
    async () => {
      const views = await Promise.all(nodes.map((n) => etcdMemberStatus(n, 500)));
      return views.every((v) => v.healthy && v.leader && v.leader === views[0].leader);
    },
    { timeoutMs, intervalMs: 50 },
  );
}
