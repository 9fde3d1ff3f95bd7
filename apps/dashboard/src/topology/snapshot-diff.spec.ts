import { emptySnapshot, InstanceView, MariaDbConcernView, TopologySnapshot } from './snapshot';
import { diffSnapshots } from './snapshot-diff';
import { Timeline } from './timeline';

const instance = (id: string, o: Partial<InstanceView> = {}): InstanceView => ({
  service: id.replace(/-\d+$/, ''),
  id,
  host: '127.0.0.1',
  httpPort: 4001,
  version: '0.1.0',
  startedAt: '2026-11-25T20:00:00.000Z',
  health: 'up',
  ...o,
});

const snap = (o: Partial<TopologySnapshot> = {}): TopologySnapshot => ({
  ...emptySnapshot(),
  ...o,
});
const kinds = (prev: TopologySnapshot, next: TopologySnapshot, reasons?: Map<string, string>) =>
  diffSnapshots(prev, next, { removalReasons: reasons }).map((e) => `${e.kind} ${e.subject}`);

describe('diffSnapshots', () => {
  it('reports nothing between equal snapshots', () => {
    const s = snap({
      instances: [instance('payment-1')],
      mariadb: { epoch: 1, primary: 'mariadb-1', nodes: [] },
    });
    expect(diffSnapshots(s, structuredClone(s))).toEqual([]);
  });

  it('reports instances joining and leaving, with the registry removal reason', () => {
    const prev = snap({
      instances: [instance('payment-1'), instance('scrap-1'), instance('scrap-2')],
    });
    const next = snap({ instances: [instance('payment-1'), instance('payment-2')] });
    const events = diffSnapshots(prev, next, {
      removalReasons: new Map([
        ['scrap-1', 'deregistered'],
        ['scrap-2', 'expired'],
      ]),
    });
    expect(events.map((e) => [e.kind, e.subject, e.level])).toEqual([
      ['instance-joined', 'payment-2', 'info'],
      ['instance-left', 'scrap-1', 'info'],
      ['instance-left', 'scrap-2', 'warn'],
    ]);
    expect(events[1].message).toContain('graceful');
    expect(events[2].message).toContain('lease expired');
  });

  it('reports a health change, but not the first probe of a new instance', () => {
    const prev = snap({ instances: [instance('a-1', { health: 'unknown' }), instance('b-1')] });
    const next = snap({
      instances: [instance('a-1'), instance('b-1', { health: 'down', error: 'down: database' })],
    });
    const events = diffSnapshots(prev, next);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'instance-health', subject: 'b-1', level: 'warn' });
    expect(events[0].message).toBe('b-1 is down: down: database');
  });

  it('reports breakers opening, half-opening and closing; a new closed breaker is no news', () => {
    const b = (endpoint: string, state: 'closed' | 'open' | 'half-open') => ({
      caller: 'reservation-1',
      dependency: 'recommendation',
      endpoint,
      state,
    });
    const prev = snap({
      breakers: [b('*', 'closed'), b('recommendation-1', 'closed'), b('recommendation-2', 'open')],
    });
    const next = snap({
      breakers: [
        b('*', 'closed'),
        b('recommendation-1', 'open'),
        b('recommendation-2', 'half-open'),
        b('recommendation-3', 'closed'),
      ],
    });
    expect(kinds(prev, next)).toEqual([
      'breaker-opened reservation-1 -> recommendation/recommendation-1',
      'breaker-half-open reservation-1 -> recommendation/recommendation-2',
    ]);
    expect(kinds(next, prev)).toEqual([
      'breaker-closed reservation-1 -> recommendation/recommendation-1',
      'breaker-opened reservation-1 -> recommendation/recommendation-2',
    ]);
  });

  it('reports the failover leader changing with its fencing token, and losing it', () => {
    const agents = (leader?: string, token?: number) => ({ leader, token, agents: [] });
    const events = diffSnapshots(
      snap({ agents: agents('agent-1', 1) }),
      snap({ agents: agents('agent-2', 2) }),
    );
    expect(events.map((e) => e.message)).toEqual([
      'agent-2 leads the failover agents (fencing token 2)',
    ]);
    expect(kinds(snap({ agents: agents('agent-2', 2) }), snap({ agents: agents() }))).toEqual([
      'leader-changed agent-2',
    ]);
  });

  it('reports a failover starting (an agent acting) and finishing (a newer report)', () => {
    const agent = (acting: boolean, epoch?: number) => ({
      id: 'agent-1',
      address: '127.0.0.1:4801',
      reachable: true,
      acting,
      lastFailover:
        epoch === undefined
          ? undefined
          : {
              kind: 'failover' as const,
              epoch,
              from: 'mariadb-1',
              to: 'mariadb-2',
              reason: 'primary dead',
              totalMs: 640,
            },
    });
    const idle = snap({
      agents: { agents: [agent(false)] },
      mariadb: { epoch: 1, primary: 'mariadb-1', nodes: [] },
    });
    const acting = snap({
      agents: { agents: [agent(true)] },
      mariadb: { epoch: 1, primary: 'mariadb-1', nodes: [] },
    });
    const done = snap({
      agents: { agents: [agent(false, 2)] },
      mariadb: { epoch: 2, primary: 'mariadb-2', nodes: [] },
    });
    expect(kinds(idle, acting)).toEqual(['failover-started agent-1']);
    expect(kinds(acting, done)).toEqual([
      'primary-changed mariadb-2',
      'failover-finished mariadb-2',
    ]);
    // one diff holding the whole failover: in the order it happened, naming the old primary
    expect(kinds(idle, { ...done, agents: { agents: [agent(true, 2)] } })).toEqual([
      'failover-started agent-1',
      'primary-changed mariadb-2',
      'failover-finished mariadb-2',
    ]);
    expect(diffSnapshots(idle, acting)[0].message).toContain('of mariadb-1');
    expect(diffSnapshots(acting, done)[1].message).toBe(
      'failover finished: mariadb-1 -> mariadb-2 in 640 ms, epoch 2 (primary dead)',
    );
    // the same report seen again (an agent back after a blip) is not a second failover
    expect(kinds(done, structuredClone(done))).toEqual([]);
  });

  it('reports Redis and etcd leadership changes, not their first sighting', () => {
    const r = (primary?: string) => ({ masterName: 'stayline', primary, nodes: [], sentinels: [] });
    expect(kinds(snap({ redis: r() }), snap({ redis: r('127.0.0.1:6479') }))).toEqual([]);
    expect(
      kinds(snap({ redis: r('127.0.0.1:6479') }), snap({ redis: r('127.0.0.1:6480') })),
    ).toEqual(['redis-primary-changed 127.0.0.1:6480']);
    expect(
      kinds(snap({ etcd: { leader: 'a1', members: [] } }), snap({ etcd: { members: [] } })),
    ).toEqual(['etcd-leader-changed a1']);
  });

  it('reports errant GTIDs appearing on a node and clearing, once each', () => {
    const errant: MariaDbConcernView = {
      kind: 'errant-gtids',
      node: 'mariadb-1',
      primary: 'mariadb-2',
      gtids: ['0-1-101', '0-1-102'],
      since: '2026-11-25T20:00:00.000Z',
      text: 'mariadb-1 is fenced and holds 0-1-101,0-1-102 that mariadb-2 lacks: restart it or rebuild it',
    };
    const m = (concerns?: MariaDbConcernView[]) =>
      snap({ mariadb: { epoch: 2, primary: 'mariadb-2', nodes: [], concerns } });
    const raised = diffSnapshots(m([]), m([errant]));
    expect(raised).toEqual([
      {
        kind: 'mariadb-concern-raised',
        subject: 'mariadb-1',
        message:
          'mariadb-1 holds errant GTIDs 0-1-101,0-1-102 that mariadb-2 lacks: to be rebuilt from the primary (never merged)',
        level: 'warn',
      },
    ]);
    // seen again, even with one more GTID: no news
    expect(
      kinds(m([errant]), m([{ ...errant, gtids: ['0-1-101', '0-1-102', '0-1-103'] }])),
    ).toEqual([]);
    expect(diffSnapshots(m([errant]), m([]))).toEqual([
      {
        kind: 'mariadb-concern-cleared',
        subject: 'mariadb-1',
        message: 'mariadb-1 no longer holds errant GTIDs (0-1-101,0-1-102)',
        level: 'info',
      },
    ]);
    // an older snapshot without the field counts as none
    expect(kinds(m(undefined), m([errant]))).toEqual(['mariadb-concern-raised mariadb-1']);
    // errant GTIDs rolled back by a restart, the node now only waits for its rejoin
    const waiting: MariaDbConcernView = {
      ...errant,
      kind: 'fenced',
      gtids: undefined,
      text: 'mariadb-1 is fenced: rejoin it',
    };
    expect(diffSnapshots(m([errant]), m([waiting])).map((e) => [e.kind, e.message])).toEqual([
      ['mariadb-concern-cleared', 'mariadb-1 no longer holds errant GTIDs (0-1-101,0-1-102)'],
      ['mariadb-concern-raised', 'mariadb-1 is fenced: rejoin it'],
    ]);
    expect(diffSnapshots(m([waiting]), m([]))[0].message).toBe(
      'mariadb-1: resolved (waiting for a rejoin)',
    );
  });

  it('names the flags that changed', () => {
    const prev = snap({
      flags: {
        version: 3,
        flags: { a: { kind: 'boolean', enabled: true }, b: { kind: 'number', value: 1 } },
      },
    });
    const next = snap({
      flags: {
        version: 5,
        flags: { a: { kind: 'boolean', enabled: false }, c: { kind: 'number', value: 2 } },
      },
    });
    const [e] = diffSnapshots(prev, next);
    expect(e).toMatchObject({ kind: 'flags-changed', message: 'flags version 5: a, b removed, c' });
  });
});

describe('Timeline', () => {
  it('numbers events in order and keeps the last ones', () => {
    const t = new Timeline(2, () => new Date('2026-11-25T20:00:00Z'));
    const change = (subject: string) => ({
      kind: 'instance-joined' as const,
      subject,
      message: subject,
      level: 'info' as const,
    });
    t.add([change('a'), change('b')]);
    const [c] = t.add([change('c')]);
    expect(c).toMatchObject({ seq: 3, at: '2026-11-25T20:00:00.000Z' });
    expect(t.recent().map((e) => e.subject)).toEqual(['b', 'c']);
  });
});
