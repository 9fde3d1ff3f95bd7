import type { TimelineEvent, TopologySnapshot } from './snapshot';
import { fullSnapshot } from './snapshot.fixture';
import {
  publicError,
  publicEvent,
  publicSnapshot,
  scrubText,
  viewEvents,
  viewSnapshot,
} from './public-view';

/** Everything that locates or fingerprints a component in the fixture. */
const SECRETS = [
  '10.89.51',
  'stayline.internal',
  ':3000',
  ':3306',
  ':6379',
  ':26379',
  ':2379',
  'etcd-1:',
  'http://',
  '1.4.2',
  '0-2-104',
  '0-1-1043',
  '8e9e05c5',
  '91bc3c39',
  'Access denied',
  'getaddrinfo',
];

describe('publicSnapshot', () => {
  const p = publicSnapshot(fullSnapshot());

  it('says it is the public view, and keeps the time and the flags', () => {
    expect(p.view).toBe('public');
    expect(p.at).toBe('2026-12-06T20:00:00.000Z');
    expect(p.flags).toEqual({ version: 7, flags: { 'fault.recommendation.all.latencyMs': 500 } });
  });

  it('instances: service, id, health, in flight, rates, start; no host, port or version; a short reason', () => {
    expect(p.instances).toEqual([
      {
        service: 'reservation',
        id: 'reservation-1',
        startedAt: '2026-12-06T19:00:00.000Z',
        health: 'up',
        inFlight: 3,
        requestsPerS: 48.5,
        errorsPerS: 0.5,
      },
      {
        service: 'payment',
        id: 'payment-1',
        startedAt: '2026-12-06T19:00:01.000Z',
        health: 'down',
        error: 'refused',
      },
    ]);
  });

  it('breakers: caller, dependency, endpoint (an instance id), state, retry; the reason without the address', () => {
    expect(p.breakers).toEqual([
      {
        caller: 'reservation-1',
        dependency: 'payment',
        endpoint: 'payment-1',
        state: 'open',
        essential: true,
        retryAfterMs: 4000,
        reason: '5 failures: connect ECONNREFUSED (hidden)',
      },
    ]);
  });

  it('agents: the leader, its fencing token, roles, the last failover with its timing; no address', () => {
    expect(p.agents).toEqual({
      leader: 'failover-agent-1',
      token: 12,
      agents: [
        {
          id: 'failover-agent-1',
          reachable: true,
          role: 'leader',
          token: 12,
          epoch: 3,
          acting: false,
          degraded: ['semi-sync: no replica at (hidden)'],
          lastFailover: {
            kind: 'failover',
            epoch: 3,
            from: 'mariadb-1',
            to: 'mariadb-2',
            reason: '3 failed probes (connect ETIMEDOUT (hidden)); replicas: mariadb-2',
            totalMs: 2140,
          },
        },
        { id: 'failover-agent-2', reachable: false, error: 'unreachable' },
      ],
    });
  });

  it('MariaDB: names, roles, lag, semi-sync, threads, the source by name; no host, port or GTID', () => {
    expect(p.mariadb).toEqual({
      epoch: 3,
      primary: 'mariadb-2',
      publishedBy: 'failover-agent-1',
      nodes: [
        { name: 'mariadb-1', role: 'fenced', reachable: false, error: 'error' },
        {
          name: 'mariadb-2',
          role: 'primary',
          reachable: true,
          readOnly: false,
          lagMs: 0,
          semiSync: 'ON',
          semiSyncClients: 1,
        },
        {
          name: 'mariadb-3',
          role: 'replica',
          reachable: true,
          readOnly: true,
          lagMs: 12,
          semiSync: 'ON',
          ioRunning: true,
          sqlRunning: true,
          follows: 'mariadb-2',
        },
      ],
      concerns: [
        {
          kind: 'errant-gtids',
          node: 'mariadb-1',
          primary: 'mariadb-2',
          since: '2026-12-06T19:59:00.000Z',
          text: 'mariadb-1 ((hidden)) holds 0-1-1043 that mariadb-2 lacks',
        },
      ],
    });
  });

  it('Redis: nodes and Sentinels by label, the primary by the same label the nodes use', () => {
    expect(p.redis).toEqual({
      masterName: 'stayline',
      primary: 'redis-2',
      nodes: [
        { address: 'redis-2', role: 'primary', up: true, flags: 'master' },
        { address: 'redis-1', role: 'replica', up: true, flags: 'slave' },
      ],
      sentinels: [
        { address: 'sentinel-1', reachable: true, master: 'redis-2', quorum: true },
        { address: 'sentinel-2', reachable: false, error: 'timeout' },
      ],
    });
  });

  it('Redis labels stay with their node across a Sentinel failover', () => {
    const s = fullSnapshot();
    s.redis.primary = '10.89.51.21:6379';
    s.redis.nodes = [
      { address: '10.89.51.21:6379', role: 'primary', up: true, flags: 'master' },
      { address: '10.89.51.22:6379', role: 'replica', up: true, flags: 'slave' },
    ];
    const after = publicSnapshot(s).redis;
    expect(after.primary).toBe('redis-1');
    expect(after.nodes.map((n) => n.address)).toEqual(['redis-1', 'redis-2']);
  });

  it('etcd: members as etcd-N in order, the leader (a member id) by label; no endpoint or member id', () => {
    expect(p.etcd).toEqual({
      leader: 'etcd-2',
      members: [
        { endpoint: 'etcd-1', reachable: true, healthy: true, isLeader: false, raftTerm: 4 },
        { endpoint: 'etcd-2', reachable: true, healthy: true, isLeader: true, raftTerm: 4 },
        {
          endpoint: 'etcd-3',
          reachable: false,
          healthy: false,
          isLeader: false,
          error: 'unreachable',
        },
      ],
    });
  });

  it('leaves nothing that locates or fingerprints a component anywhere in the JSON', () => {
    const json = JSON.stringify(p);
    for (const secret of SECRETS)
      expect({ secret, found: json.includes(secret) }).toEqual({
        secret,
        found: secret === '0-1-1043', // a GTID named by the agent's concern text: not an address
      });
    expect(json).not.toContain('undefined');
  });

  it('drops a field it does not know (allow-list): one added to the snapshot later stays out', () => {
    const s = fullSnapshot() as unknown as Record<string, unknown> & TopologySnapshot;
    const extra = { pid: 4242, secretHost: '10.0.0.9' };
    s.extra = extra;
    Object.assign(s.instances[0], extra);
    Object.assign(s.breakers[0], extra);
    Object.assign(s.agents, extra);
    Object.assign(s.agents.agents[0], extra);
    Object.assign(s.agents.agents[0].lastFailover as object, extra);
    Object.assign(s.mariadb, extra);
    Object.assign(s.mariadb.nodes[0], extra);
    Object.assign((s.mariadb.concerns ?? [])[0], extra);
    Object.assign(s.redis, extra);
    Object.assign(s.redis.nodes[0], extra);
    Object.assign(s.redis.sentinels[0], extra);
    Object.assign(s.etcd, extra);
    Object.assign(s.etcd.members[0], extra);
    Object.assign(s.flags, extra);
    const json = JSON.stringify(publicSnapshot(s));
    expect(json).not.toContain('pid');
    expect(json).not.toContain('secretHost');
    expect(json).not.toContain('10.0.0.9');
  });

  it('is idempotent: a public snapshot comes out unchanged', () => {
    expect(publicSnapshot(p)).toEqual(p);
  });

  it('does not change the snapshot it is given', () => {
    const s = fullSnapshot();
    publicSnapshot(s);
    expect(s).toEqual(fullSnapshot());
  });
});

describe('publicError', () => {
  it.each([
    [undefined, undefined],
    ['connect ECONNREFUSED 10.0.0.1:3306', 'refused'],
    ['connect ETIMEDOUT 10.0.0.1:3306', 'timeout'],
    ['The operation was aborted due to timeout', 'timeout'],
    ['getaddrinfo ENOTFOUND mariadb-1', 'unreachable'],
    ['socket hang up', 'unreachable'],
    ["Access denied for user 'x'@'10.0.0.2'", 'error'],
    ['HTTP 503', 'error'],
    ['timeout', 'timeout'],
    ['error', 'error'],
  ])('%s -> %s', (error, reason) => {
    expect(publicError(error)).toBe(reason);
  });
});

describe('scrubText', () => {
  it.each([
    ['connect ECONNREFUSED 10.89.51.22:3000', 'connect ECONNREFUSED (hidden)'],
    ['replica at 10.89.51.12', 'replica at (hidden)'],
    ['GET http://etcd-3:2379/health failed', 'GET (hidden) failed'],
    ['dial [fd00::12]:6379', 'dial (hidden)'],
    ['peer fd00:0:0:0::12 gone', 'peer (hidden) gone'],
    ['mariadb-1:3306 is down', '(hidden) is down'],
    ['db.internal.example:3306', '(hidden)'],
    // what teaches stays: names, GTIDs, timings
    ['mariadb-1 -> mariadb-2 in 2140 ms, epoch 3', 'mariadb-1 -> mariadb-2 in 2140 ms, epoch 3'],
    ['holds 0-1-101,0-1-102', 'holds 0-1-101,0-1-102'],
    ['at 20:01:02', 'at 20:01:02'],
  ])('%s', (text, scrubbed) => {
    expect(scrubText(text)).toBe(scrubbed);
  });
});

describe('views', () => {
  const event: TimelineEvent & { extra?: string } = {
    seq: 4,
    at: '2026-12-06T20:00:00.000Z',
    kind: 'redis-primary-changed',
    subject: '10.89.51.21:6379',
    message: 'Redis primary 10.89.51.22:6379 -> 10.89.51.21:6379 (Sentinel failover)',
    level: 'warn',
    extra: 'dropped',
  };

  it('a public timeline event: the listed fields, addresses masked', () => {
    expect(publicEvent(event)).toEqual({
      seq: 4,
      at: '2026-12-06T20:00:00.000Z',
      kind: 'redis-primary-changed',
      subject: '(hidden)',
      message: 'Redis primary (hidden) -> (hidden) (Sentinel failover)',
      level: 'warn',
    });
  });

  it('full passes everything through, public redacts', () => {
    const s = fullSnapshot();
    expect(viewSnapshot('full', s)).toEqual({ ...s, view: 'full' });
    expect(viewSnapshot('public', s)).toEqual(publicSnapshot(s));
    expect(viewEvents('full', [event])).toEqual([event]);
    expect(viewEvents('public', [event])).toEqual([publicEvent(event)]);
  });
});
