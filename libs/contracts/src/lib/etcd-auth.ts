/**
 * Who may touch which etcd keys: one user per role, each role granted key
 * prefixes read-only or read-write. This table is the one place the rules are
 * written: the native stack kit applies it to its cluster, compose and
 * Kubernetes run the same table through the stack kit's `etcd-auth` command
 * (docs/patterns/coordinator.md, "Who may touch etcd").
 *
 * etcd checks every key a request names against the caller's roles; a lease
 * can only be revoked by a user who may write every key attached to it, so a
 * role that cannot write the failover agents' prefix cannot depose their leader
 * by revoking its lease either. `root` (role `root`) administers users and
 * roles and is used by the setup alone.
 */

/** The roles of the stack's processes on etcd. */
export const ETCD_ROLES = ['agent', 'service', 'gateway-sync', 'dashboard'] as const;
export type EtcdRole = (typeof ETCD_ROLES)[number];

/** etcd's administrator: auth can only be enabled once it exists, with the role `root`. */
export const ETCD_ROOT_USER = 'root';

/** The etcd user of each role (the role itself has the same name). */
export const ETCD_USERS: Record<EtcdRole, string> = {
  agent: 'stayline-agent',
  service: 'stayline-service',
  'gateway-sync': 'stayline-gateway-sync',
  dashboard: 'stayline-dashboard',
};

/** The key prefixes the stack uses (the literals live beside the code that uses them). */
export const ETCD_PREFIXES = {
  /** libs/coordination, the services' backend: `<prefix>/election|lock|flags|fenced/...`. */
  coordination: '/stayline/coord/',
  /** The failover agents' own coordination prefix: their leader election (lease + key). */
  agents: '/stayline/agents/',
  /** libs/discovery etcd registry: `/stayline/services/<service>/<id>[/agents/<agentId>]`. */
  services: '/stayline/services/',
  /** libs/discovery: why an entry was removed, kept a few seconds. */
  tombstones: '/stayline/tombstones/',
} as const;

/** The flags, under the services' coordination prefix (etcd.flag-store.ts). */
export const ETCD_FLAGS_PREFIX = `${ETCD_PREFIXES.coordination}flags/`;

export interface EtcdGrant {
  /** Every key that starts with it. */
  prefix: string;
  access: 'read' | 'readwrite';
  /** Why: one line of the table. */
  what: string;
}

export interface EtcdRoleRule {
  /** Who logs in as this role's user. */
  who: string;
  grants: EtcdGrant[];
}

export const ETCD_ROLE_RULES: Record<EtcdRole, EtcdRoleRule> = {
  agent: {
    who: 'the failover agents (COORDINATION_BACKEND=etcd)',
    grants: [
      {
        prefix: ETCD_PREFIXES.agents,
        access: 'readwrite',
        what: 'their leader election: the lease-bound candidate keys, watched by followers',
      },
      {
        prefix: ETCD_PREFIXES.services,
        access: 'read',
        what: "the registry, to find auth's published keys (DISCOVERY_BACKEND=etcd)",
      },
      { prefix: ETCD_PREFIXES.tombstones, access: 'read', what: 'why a registry entry went' },
    ],
  },
  service: {
    who: 'reservation, payment, recommendation, scrap, auth',
    grants: [
      {
        prefix: ETCD_PREFIXES.coordination,
        access: 'readwrite',
        what: 'elections, locks, fenced resources, flags (written by /admin/flags)',
      },
      {
        prefix: ETCD_PREFIXES.services,
        access: 'readwrite',
        what: 'register itself with a lease, resolve and watch the others',
      },
      {
        prefix: ETCD_PREFIXES.tombstones,
        access: 'readwrite',
        what: 'say why its entry was removed, clear it on return',
      },
    ],
  },
  'gateway-sync': {
    who: "the gateway sync: nginx's upstreams from the registry",
    grants: [
      { prefix: ETCD_PREFIXES.services, access: 'read', what: 'read and watch the registry' },
      { prefix: ETCD_PREFIXES.tombstones, access: 'read', what: 'why an entry went' },
    ],
  },
  dashboard: {
    who: 'the dashboard: the registry and the flags, shown',
    grants: [
      { prefix: ETCD_PREFIXES.services, access: 'read', what: 'read and watch the registry' },
      { prefix: ETCD_PREFIXES.tombstones, access: 'read', what: 'why an entry went' },
      {
        prefix: `${ETCD_PREFIXES.services}dashboard/`,
        access: 'readwrite',
        what: 'register its own instances (the gateway routes /dashboard)',
      },
      {
        prefix: `${ETCD_PREFIXES.tombstones}dashboard/`,
        access: 'readwrite',
        what: 'its own tombstones',
      },
      { prefix: ETCD_FLAGS_PREFIX, access: 'read', what: 'read and watch the flags' },
    ],
  },
};

/** What a process needs to log in to etcd as its role. */
export interface EtcdLogin {
  username: string;
  password: string;
}
