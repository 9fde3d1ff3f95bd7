/**
 * Who may do what on Redis and on the Sentinels: one ACL user per role, each
 * limited to the keys, channels and commands its code uses. This table is the
 * one place the rules are written: the native stack kit writes them into each
 * node's ACL file and each Sentinel's config, compose and Kubernetes render the
 * same lines (docs/patterns/coordinator.md, "Who may touch Redis").
 *
 * A rule is a set of grants. Each grant becomes one ACL selector `(...)`: a
 * command is allowed when one selector allows the command, every key it names
 * and every channel it names. Keys are read-write (`~pattern`) or read-only
 * (`%R~pattern`); a Lua script's own commands are checked one by one, as the
 * caller's, so a script cannot do what its caller may not. Channels are one
 * right for PUBLISH and SUBSCRIBE alike: subscriptions sit at the user's root
 * (ioredis subscribes again to all of them in one command after a reconnect),
 * PUBLISH only in the grants that may announce a change.
 */

/** The roles that connect to Redis data nodes. */
export const REDIS_ROLES = [
  'service',
  'agent',
  'gateway-sync',
  'dashboard',
  'replica',
  'sentinel',
  'admin',
] as const;
export type RedisRole = (typeof REDIS_ROLES)[number];

/** The ACL user of each role on the Redis data nodes. */
export const REDIS_USERS: Record<RedisRole, string> = {
  service: 'stayline-service',
  agent: 'stayline-agent',
  'gateway-sync': 'stayline-gateway-sync',
  dashboard: 'stayline-dashboard',
  replica: 'stayline-replica',
  sentinel: 'stayline-sentinel',
  admin: 'stayline-admin',
};

/** The Sentinels' own users: the admin (Sentinels among themselves, operators) and every client of the stack. */
export const SENTINEL_ROLES = ['admin', 'client'] as const;
export type SentinelRole = (typeof SENTINEL_ROLES)[number];
export const SENTINEL_USERS: Record<SentinelRole, string> = {
  admin: REDIS_USERS.admin,
  client: 'stayline-client',
};

/** What a process needs to reach Redis through the Sentinels as its role. */
export interface RedisCredentials {
  username: string;
  password: string;
  sentinelUsername: string;
  sentinelPassword: string;
}

/** The keys the stack uses, by owner (the literals live beside the code that uses them). */
export const REDIS_KEY_PATTERNS = {
  /** libs/discovery: `<prefix>:<service>:instances|leases|down:<id>`, channel `<prefix>:<service>:events`. */
  discovery: 'stayline:discovery:*',
  /** libs/coordination: elections, locks, fenced resources, flags, and their `:events` channels. */
  coordination: 'stayline:coord:*',
  /** The MariaDB topology the failover agents publish (TOPOLOGY_KEY, `:intent`, `:members`, `:events`). */
  topology: 'stayline:topology:*',
  /** The reservation events stream (RESERVATION_EVENTS_STREAM), the outbox's destination. */
  events: 'stayline:events:*',
  /** scrap's cache of OpenGraph cards. */
  scrapCache: 'stayline:scrap:*',
} as const;

const discoveryOf = (service: string) => `stayline:discovery:${service}:*`;

export interface AclGrant {
  /** Why: one line of the table. */
  what: string;
  /** Keys read and written. */
  keys?: string[];
  /** Keys only read. */
  readKeys?: string[];
  /** Channels this grant may PUBLISH to. */
  publish?: string[];
  commands: string[];
}

export interface RoleAcl {
  /** Who uses the user. */
  who: string;
  /** Channels subscribed to (held at the user's root). */
  subscribe?: string[];
  /** Commands with no key (connection, pub/sub, replication). */
  commands: string[];
  /** Keys of the root (the admin's every key); the roles of the stack have theirs in grants. */
  keys?: string[];
  grants: AclGrant[];
}

/** What ioredis sends on every connection: the ready check (INFO), its name, the liveness probe. */
const CONNECTION = ['ping', 'info', 'quit', 'client|setname'];
/** Scripts are cached once per connection (SCRIPT LOAD) and run by SHA; `_ro` for pure reads. */
const SCRIPTS = ['script|load', 'evalsha', 'eval'];
const READ_SCRIPTS = ['script|load', 'evalsha_ro', 'eval_ro'];
const SUBSCRIBER = ['subscribe', 'unsubscribe'];

/** The registry's scripts (libs/discovery redis.registry.scripts.ts): upsert, remove, sweep. */
const REGISTRY_WRITE = [
  ...SCRIPTS,
  ...READ_SCRIPTS.slice(1),
  'time',
  'exists',
  'del',
  'set',
  'zscore',
  'zadd',
  'zrem',
  'zrange',
  'zrangebyscore',
  'hget',
  'hset',
  'hdel',
];
/** A read of the registry: the sweep script run read-only (EVALSHA_RO), removing nothing. */
const REGISTRY_READ = [...READ_SCRIPTS.slice(1), 'time', 'zrange', 'zrangebyscore', 'hget'];
/** Leases (elections, locks), flags and fenced resources (libs/coordination), WAIT for a replica's ack. */
const COORDINATION_WRITE = [
  ...SCRIPTS,
  ...READ_SCRIPTS.slice(1),
  'get',
  'set',
  'del',
  'incr',
  'pttl',
  'pexpire',
  'hget',
  'hset',
  'hdel',
  'hgetall',
  'lpush',
  'ltrim',
  'lrange',
  'wait',
];
/** The flags' consistent read (one script, EVALSHA_RO). */
const FLAGS_READ = [...READ_SCRIPTS.slice(1), 'get', 'hgetall'];

/** The table: role -> keys -> commands. */
export const REDIS_ACL: Record<RedisRole, RoleAcl> = {
  service: {
    who: 'every service instance (auth, payment, recommendation, reservation, scrap)',
    subscribe: [
      REDIS_KEY_PATTERNS.discovery,
      REDIS_KEY_PATTERNS.coordination,
      REDIS_KEY_PATTERNS.topology,
    ],
    commands: [...CONNECTION, 'script|load', ...SUBSCRIBER],
    grants: [
      {
        what: 'register itself, find and watch the others',
        keys: [REDIS_KEY_PATTERNS.discovery],
        publish: [REDIS_KEY_PATTERNS.discovery],
        commands: REGISTRY_WRITE,
      },
      {
        what: 'flags, leader elections, locks, fenced writes',
        keys: [REDIS_KEY_PATTERNS.coordination],
        publish: [REDIS_KEY_PATTERNS.coordination],
        commands: COORDINATION_WRITE,
      },
      {
        what: 'follow the published MariaDB topology (read only)',
        readKeys: [REDIS_KEY_PATTERNS.topology],
        commands: ['hmget'],
      },
      {
        what: 'the reservation events stream: the outbox appends, recommendation consumes',
        keys: [REDIS_KEY_PATTERNS.events],
        commands: ['xadd', 'wait', 'xgroup|create', 'xreadgroup', 'xautoclaim', 'xack'],
      },
      {
        what: "scrap's page-card cache",
        keys: [REDIS_KEY_PATTERNS.scrapCache],
        commands: ['get', 'set'],
      },
    ],
  },
  agent: {
    who: 'the failover agents',
    subscribe: [
      REDIS_KEY_PATTERNS.discovery,
      REDIS_KEY_PATTERNS.coordination,
      REDIS_KEY_PATTERNS.topology,
    ],
    // ROLE: each Redis node's own answer, reported in discovery (Sentinel fails Redis over)
    commands: [...CONNECTION, 'role', 'script|load', ...SUBSCRIBER],
    grants: [
      {
        what: 'publish the MariaDB topology, its intent and members (fenced by token)',
        keys: [REDIS_KEY_PATTERNS.topology],
        publish: [REDIS_KEY_PATTERNS.topology],
        commands: [...SCRIPTS, 'exists', 'get', 'set', 'del', 'hget', 'hmget', 'hset', 'hgetall'],
      },
      {
        what: 'register the datastores (MariaDB and Redis nodes) on their behalf',
        keys: [discoveryOf('mariadb'), discoveryOf('redis')],
        publish: [discoveryOf('mariadb'), discoveryOf('redis')],
        commands: REGISTRY_WRITE,
      },
      {
        what: 'read the registry: the datastores it keeps, any service it looks up',
        readKeys: [REDIS_KEY_PATTERNS.discovery],
        commands: REGISTRY_READ,
      },
      {
        what: 'elect the leading agent (when coordination is on Redis)',
        keys: [REDIS_KEY_PATTERNS.coordination],
        publish: [REDIS_KEY_PATTERNS.coordination],
        commands: COORDINATION_WRITE,
      },
    ],
  },
  'gateway-sync': {
    who: "the gateway sync, rendering nginx's upstreams",
    subscribe: [REDIS_KEY_PATTERNS.discovery],
    commands: [...CONNECTION, 'script|load', ...SUBSCRIBER],
    grants: [
      {
        what: 'read and watch the registry; never writes, never publishes',
        readKeys: [REDIS_KEY_PATTERNS.discovery],
        commands: REGISTRY_READ,
      },
    ],
  },
  dashboard: {
    who: 'the dashboard',
    subscribe: [
      REDIS_KEY_PATTERNS.discovery,
      REDIS_KEY_PATTERNS.coordination,
      REDIS_KEY_PATTERNS.topology,
    ],
    commands: [...CONNECTION, 'script|load', ...SUBSCRIBER],
    grants: [
      {
        what: 'read and watch the registry, the flags and the topology',
        readKeys: [
          REDIS_KEY_PATTERNS.discovery,
          REDIS_KEY_PATTERNS.coordination,
          REDIS_KEY_PATTERNS.topology,
        ],
        commands: [...new Set([...REGISTRY_READ, ...FLAGS_READ, 'hmget'])],
      },
      {
        what: 'register its own instances (the gateway routes /dashboard)',
        keys: [discoveryOf('dashboard')],
        publish: [discoveryOf('dashboard')],
        commands: REGISTRY_WRITE,
      },
    ],
  },
  replica: {
    who: 'a Redis replica syncing from its primary (masteruser)',
    commands: ['ping', 'psync', 'replconf'],
    grants: [],
  },
  sentinel: {
    who: 'the Sentinels, monitoring and failing over the data nodes (auth-user)',
    subscribe: ['__sentinel__:*'],
    commands: [
      'ping',
      'info',
      'role',
      'client|setname',
      'client|kill',
      'subscribe',
      'publish',
      'multi',
      'exec',
      'slaveof',
      'replicaof',
      'config|rewrite',
      'script|kill',
    ],
    grants: [],
  },
  admin: {
    who: 'operators and the test kits (never given to a process of the stack)',
    commands: ['@all'],
    keys: ['*'],
    subscribe: ['*'],
    grants: [],
  },
};

/** On the Sentinels: clients ask where the primary is and follow failovers; only the admin may change anything. */
export const SENTINEL_ACL: Record<SentinelRole, { who: string; rules: string }> = {
  admin: {
    who: 'the Sentinels among themselves (sentinel-user) and operators: every command',
    rules: '~* &* +@all',
  },
  client: {
    who: 'every process of the stack: where the primary is, the Sentinels, their view; +switch-master',
    rules: [
      '&*',
      '-@all',
      // a Sentinel has no QUIT in its command table
      ...[...CONNECTION.filter((c) => c !== 'quit'), ...SUBSCRIBER].map((c) => `+${c}`),
      ...['get-master-addr-by-name', 'sentinels', 'master', 'replicas', 'slaves', 'ckquorum'].map(
        (c) => `+sentinel|${c}`,
      ),
    ].join(' '),
  },
};

/** The ACL rules of a role (everything after `user <name> on >password`). */
export function redisAclRules(role: RedisRole): string {
  const acl = REDIS_ACL[role];
  const root = [
    'resetkeys',
    'resetchannels',
    '-@all',
    ...acl.commands.map((c) => `+${c}`),
    ...(acl.keys ?? []).map((k) => `~${k}`),
    ...(acl.subscribe ?? []).map((c) => `&${c}`),
  ];
  const selectors = acl.grants.map((g) => {
    const parts = [
      ...(g.keys ?? []).map((k) => `~${k}`),
      ...(g.readKeys ?? []).map((k) => `%R~${k}`),
      ...(g.publish ?? []).map((c) => `&${c}`),
      ...g.commands.map((c) => `+${c}`),
      ...(g.publish?.length ? ['+publish'] : []),
    ];
    return `(${parts.join(' ')})`;
  });
  return [...root, ...selectors].join(' ');
}

/** Passwords go into ACL lines and config files: one word of visible ASCII. */
export function assertRedisPassword(name: string, password: string): void {
  if (!/^[\x21-\x7e]{1,256}$/.test(password) || password.includes('"') || password.includes("'"))
    throw new Error(`${name}: a Redis password is 1 to 256 visible ASCII characters, no quote`);
}

/**
 * An ACL file (`aclfile`) for the data nodes: the default user off with no
 * rights, then one user per role with its password.
 */
export function renderRedisAclFile(passwords: Record<RedisRole, string>): string {
  const lines = ['user default off resetpass resetkeys resetchannels -@all'];
  for (const role of REDIS_ROLES) {
    assertRedisPassword(`the ${role} password`, passwords[role]);
    lines.push(`user ${REDIS_USERS[role]} on resetpass >${passwords[role]} ${redisAclRules(role)}`);
  }
  return lines.join('\n') + '\n';
}

/** The ACL user lines of a Sentinel's config (the default user off). */
export function renderSentinelUsers(passwords: Record<SentinelRole, string>): string[] {
  return [
    'user default off resetpass resetkeys resetchannels -@all',
    ...SENTINEL_ROLES.map((role) => {
      assertRedisPassword(`the Sentinel ${role} password`, passwords[role]);
      return `user ${SENTINEL_USERS[role]} on resetpass >${passwords[role]} ${SENTINEL_ACL[role].rules}`;
    }),
  ];
}

/**
 * The lines of a Sentinel's config that carry credentials: how it logs in to
 * the data nodes (`auth-user`/`auth-pass`) and to the other Sentinels
 * (`sentinel-user`/`sentinel-pass`), and its own users.
 */
export function sentinelAuthLines(
  masterName: string,
  passwords: { sentinel: string; admin: string; client: string },
): string[] {
  return [
    `sentinel auth-user ${masterName} ${REDIS_USERS.sentinel}`,
    `sentinel auth-pass ${masterName} ${passwords.sentinel}`,
    `sentinel sentinel-user ${SENTINEL_USERS.admin}`,
    `sentinel sentinel-pass ${passwords.admin}`,
    ...renderSentinelUsers({ admin: passwords.admin, client: passwords.client }),
  ];
}

/** The replication lines of a data node's config: a replica logs in to its primary as the replica user. */
export function redisReplicationAuthLines(replicaPassword: string): string[] {
  return [`masteruser ${REDIS_USERS.replica}`, `masterauth ${replicaPassword}`];
}
