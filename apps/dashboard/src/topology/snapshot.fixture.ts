import type { TopologySnapshot } from './snapshot';

/** A full snapshot as a stack's dashboard collects it, an address in every place one can be. */
export function fullSnapshot(): TopologySnapshot {
  return {
    at: '2026-12-06T20:00:00.000Z',
    instances: [
      {
        service: 'reservation',
        id: 'reservation-1',
        host: '10.89.51.21',
        httpPort: 3000,
        tcpPort: 4000,
        version: '1.4.2+build.77',
        startedAt: '2026-12-06T19:00:00.000Z',
        health: 'up',
        inFlight: 3,
      },
      {
        service: 'payment',
        id: 'payment-1',
        host: 'payment-1.stayline.internal',
        httpPort: 3000,
        version: '1.4.2',
        startedAt: '2026-12-06T19:00:01.000Z',
        health: 'down',
        error: 'connect ECONNREFUSED 10.89.51.22:3000',
      },
    ],
    breakers: [
      {
        caller: 'reservation-1',
        dependency: 'payment',
        endpoint: 'payment-1',
        state: 'open',
        essential: true,
        retryAfterMs: 4000,
        reason: '5 failures: connect ECONNREFUSED 10.89.51.22:3000',
      },
    ],
    agents: {
      leader: 'failover-agent-1',
      token: 12,
      agents: [
        {
          id: 'failover-agent-1',
          address: 'failover-agent-1:3000',
          reachable: true,
          role: 'leader',
          token: 12,
          epoch: 3,
          acting: false,
          degraded: ['semi-sync: no replica at 10.89.51.12:3306'],
          lastFailover: {
            kind: 'failover',
            epoch: 3,
            from: 'mariadb-1',
            to: 'mariadb-2',
            reason: '3 failed probes (connect ETIMEDOUT 10.89.51.11:3306); replicas: mariadb-2',
            totalMs: 2140,
          },
        },
        {
          id: 'failover-agent-2',
          address: '10.89.51.42:3000',
          reachable: false,
          error: 'fetch failed: getaddrinfo ENOTFOUND failover-agent-2',
        },
      ],
    },
    mariadb: {
      epoch: 3,
      primary: 'mariadb-2',
      publishedBy: 'failover-agent-1',
      nodes: [
        {
          name: 'mariadb-1',
          host: '10.89.51.11',
          port: 3306,
          role: 'fenced',
          reachable: false,
          error: "Access denied for user 'stayline_monitor'@'10.89.51.51'",
        },
        {
          name: 'mariadb-2',
          host: '10.89.51.12',
          port: 3306,
          role: 'primary',
          reachable: true,
          readOnly: false,
          gtid: '0-2-1042',
          lagMs: 0,
          semiSync: 'ON',
          semiSyncClients: 1,
        },
        {
          name: 'mariadb-3',
          host: '10.89.51.13',
          port: 3306,
          role: 'replica',
          reachable: true,
          readOnly: true,
          gtid: '0-2-1041',
          lagMs: 12,
          semiSync: 'ON',
          ioRunning: true,
          sqlRunning: true,
          follows: '10.89.51.12:3306',
        },
      ],
      concerns: [
        {
          kind: 'errant-gtids',
          node: 'mariadb-1',
          primary: 'mariadb-2',
          gtids: ['0-1-1043'],
          since: '2026-12-06T19:59:00.000Z',
          text: 'mariadb-1 (10.89.51.11:3306) holds 0-1-1043 that mariadb-2 lacks',
        },
      ],
    },
    redis: {
      masterName: 'stayline',
      primary: '10.89.51.22:6379',
      nodes: [
        { address: '10.89.51.22:6379', role: 'primary', up: true, flags: 'master' },
        { address: '10.89.51.21:6379', role: 'replica', up: true, flags: 'slave' },
      ],
      sentinels: [
        {
          address: '10.89.51.31:26379',
          reachable: true,
          master: '10.89.51.22:6379',
          quorum: true,
        },
        {
          address: '10.89.51.32:26379',
          reachable: false,
          error: 'connect ETIMEDOUT 10.89.51.32:26379',
        },
      ],
    },
    etcd: {
      leader: '91bc3c398fb3c146',
      members: [
        {
          endpoint: 'http://etcd-1:2379',
          id: '8e9e05c52164694d',
          reachable: true,
          healthy: true,
          isLeader: false,
          raftTerm: 4,
        },
        {
          endpoint: 'http://etcd-2:2379',
          id: '91bc3c398fb3c146',
          reachable: true,
          healthy: true,
          isLeader: true,
          raftTerm: 4,
        },
        {
          endpoint: 'http://etcd-3:2379',
          reachable: false,
          healthy: false,
          isLeader: false,
          error: 'request to http://etcd-3:2379/health failed, reason: socket hang up',
        },
      ],
    },
    flags: { version: 7, flags: { 'fault.recommendation.all.latencyMs': 500 } },
  };
}
