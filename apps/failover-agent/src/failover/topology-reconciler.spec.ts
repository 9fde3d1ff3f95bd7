import type { NodeAddress, Topology } from '@stayline/contracts';
import type { PublishedTopology } from '@stayline/database';
import type { Logger } from 'pino';
import type { TopologyStore } from '../coordinator/topology-store';
import type { MariaDbAdmin, NodeView, ReplicationView } from '../mariadb/mariadb-admin';
import { type RebuildMark, type RebuildReport, rebuildFrom } from '../mariadb/rebuild';
import { type ReconcilerDeps, TopologyReconciler } from './topology-reconciler';

const node = (n: number): NodeAddress => ({
  name: `mariadb-${n}`,
  host: '127.0.0.1',
  port: 3400 + n,
});
const [m1, m2, m3] = [node(1), node(2), node(3)];
const semiSync = { enabled: true, active: true, clients: 1, waitSessions: 0, noTx: 0 };

/**
 * A node as the agent would read it: `binlogState` what it logged (the last
 * GTID of each server; the last one listed is its position), and whom it
 * replicates from, if anyone.
 */
const view = (
  n: NodeAddress,
  binlogState: string,
  o: { readOnly?: boolean; follows?: NodeAddress; io?: string; rebuild?: RebuildMark } = {},
): NodeView => {
  const replication: ReplicationView | undefined = o.follows && {
    masterHost: o.follows.host,
    masterPort: o.follows.port,
    io: o.io ?? 'Yes',
    sql: 'Yes',
    receivedPos: binlogState.split(',').at(-1) ?? '',
    lastIoError: '',
  };
  const pos = binlogState.split(',').at(-1) ?? '';
  return {
    name: n.name,
    readOnly: o.readOnly ?? true,
    serverId: Number(n.name.slice(-1)),
    binlogPos: pos,
    slavePos: pos,
    binlogState,
    replication,
    semiSync,
    ...(o.rebuild ? { rebuild: o.rebuild } : {}),
  };
};

/** mariadb-2 promoted after mariadb-1 was fenced; mariadb-3 replicates from it. */
const published = (o: Partial<Topology> = {}): PublishedTopology => ({
  topology: { epoch: 7, primary: m2, replicas: [m3], fenced: ['mariadb-1'], ...o },
  token: 3,
  publishedBy: 'agent-1',
  publishedAt: '2026-11-25T20:00:00.000Z',
});

function setup(rejoinFenced = true, rebuild?: ReconcilerDeps['rebuild'], agentId = 'agent-1') {
  let now = Date.parse('2026-11-25T20:00:00.000Z');
  const admin = {
    fence: jest.fn(async () => 0),
    replicate: jest.fn(async () => undefined),
    view: jest.fn(async (n: NodeAddress): Promise<NodeView> => view(n, '0-1-100')),
    recordedEpoch: jest.fn(async () => 0),
    recordEpoch: jest.fn(async () => undefined),
  };
  const store = {
    current: jest.fn(async (): Promise<PublishedTopology | undefined> => undefined),
    publish: jest.fn(async () => undefined),
  };
  const logs: Array<{ level: string; msg: string }> = [];
  const log = (level: string) => (_o: object, msg: string) => logs.push({ level, msg });
  const logger = { info: log('info'), warn: log('warn'), error: log('error') };
  const election: { token: number | undefined } = { token: 3 };
  const r = new TopologyReconciler({
    admin: admin as unknown as MariaDbAdmin,
    store: store as unknown as TopologyStore,
    agentId,
    logger: logger as unknown as Logger,
    election,
    nodes: async () => [m1, m2, m3],
    rejoinFenced,
    rebuild,
    clock: () => new Date(now),
  });
  const pass = (views: NodeView[], current = published()) =>
    r.reconcile(current, 3, [m1, m2, m3], new Map(views.map((v) => [v.name, v])));
  const tick = (ms: number) => (now += ms);
  return { r, admin, store, election, logs, pass, tick };
}

// mariadb-1 logged up to 0-1-100 acknowledged; mariadb-2 went on from 0-2-101
const primary = view(m2, '0-1-100,0-2-140');
const replica = view(m3, '0-1-100,0-2-140', { follows: m2 });

describe('TopologyReconciler concerns', () => {
  it('says nothing before its first pass, then an empty list when all is well', async () => {
    const { r, pass } = setup();
    expect(r.concerns()).toBeUndefined();
    await pass([primary, replica]);
    expect(r.concerns()).toEqual([]);
  });

  it('holds errant GTIDs of a fenced node that came back, and does not point it at the primary', async () => {
    const { r, admin, logs, pass, tick } = setup();
    // mariadb-1 logged 0-1-101 and 0-1-102 as primary, never acknowledged
    const back = view(m1, '0-1-102');
    await pass([back, primary, replica]);
    const text =
      'mariadb-1 is fenced and holds 0-1-102 that mariadb-2 lacks (logged, never acknowledged): rebuild it from the primary (REBUILD_ERRANT=auto does it)';
    expect(r.concerns()).toEqual([
      {
        kind: 'errant-gtids',
        node: 'mariadb-1',
        primary: 'mariadb-2',
        gtids: ['0-1-102'],
        since: '2026-11-25T20:00:00.000Z',
        text,
      },
    ]);
    expect(admin.replicate).not.toHaveBeenCalled();
    // logged once, dated from the first sighting
    tick(5_000);
    await pass([back, primary, replica]);
    expect(r.concerns()?.[0].since).toBe('2026-11-25T20:00:00.000Z');
    expect(logs.filter((l) => l.msg === text)).toHaveLength(1);
  });

  it('with rebuild on, rebuilds the node once from the primary, then publishes it when it replicates', async () => {
    let finish: (r: RebuildReport) => void = () => undefined;
    const rebuild = jest.fn(
      () =>
        new Promise<RebuildReport>((resolve) => {
          finish = resolve;
        }),
    );
    const { r, admin, store, logs, pass } = setup(true, rebuild);
    const back = view(m1, '0-1-102');
    await pass([back, primary, replica]);
    expect(rebuild).toHaveBeenCalledWith(m1, m2, expect.anything());
    expect(r.concerns()?.[0]).toMatchObject({ kind: 'errant-gtids', gtids: ['0-1-102'] });
    expect(r.concerns()?.[0].text).toMatch(/rebuilding it from mariadb-2, discarding them/);
    // a second pass while it runs starts no other rebuild and repoints nothing
    await pass([back, primary, replica]);
    expect(rebuild).toHaveBeenCalledTimes(1);
    expect(admin.replicate).not.toHaveBeenCalled();
    finish({ snapshotPos: '0-2-140', discardedState: '0-1-102', tables: 3, rows: 42, ms: 900 });
    await r.settled();
    expect(logs.map((l) => l.msg)).toContain(
      'mariadb-1 rebuilt from mariadb-2 in 900 ms (42 rows, 3 tables): replicating from 0-2-140',
    );
    // rebuilt: it replicates from the primary, holding nothing extra
    await pass([view(m1, '0-1-100,0-2-140', { follows: m2 }), primary, replica]);
    expect(r.concerns()).toEqual([]);
    expect(store.publish).toHaveBeenCalledWith(
      expect.objectContaining({ replicas: [m3, m1], fenced: [] }),
      expect.anything(),
    );
  });

  it('keeps the concern while the node is unreachable, drops it once a restart rolled them back', async () => {
    const { r, admin, logs, pass } = setup();
    await pass([view(m1, '0-1-102'), primary, replica]);
    await pass([primary, replica]); // down: being restarted or rebuilt
    expect(r.concerns()?.map((c) => c.kind)).toEqual(['errant-gtids']);
    await pass([view(m1, '0-1-100'), primary, replica]); // back, holding nothing extra
    expect(admin.replicate).toHaveBeenCalledWith(m1, m2, true);
    expect(r.concerns()).toEqual([]);
    expect(logs).toContainEqual({
      level: 'info',
      msg: 'mariadb-1 no longer holds errant transactions; rejoining',
    });
    // replicating: published as a replica, nothing held, the clearing not logged again
    await pass([view(m1, '0-1-100', { follows: m2 }), primary, replica]);
    expect(r.concerns()).toEqual([]);
    expect(logs.filter((l) => l.msg.includes('no longer holds'))).toHaveLength(1);
  });

  it('clears it when the node was rebuilt and rejoined by hand', async () => {
    const { r, store, logs, pass } = setup(false);
    await pass([view(m1, '0-1-102'), primary, replica]);
    expect(r.concerns()?.map((c) => c.kind)).toEqual(['errant-gtids']);
    await pass([view(m1, '0-1-100,0-2-140', { follows: m2 }), primary, replica]);
    expect(store.publish).toHaveBeenCalledWith(
      expect.objectContaining({ epoch: 8, replicas: [m3, m1], fenced: [] }),
      expect.anything(),
    );
    expect(r.concerns()).toEqual([]);
    expect(logs.map((l) => l.msg)).toContain(
      'mariadb-1 no longer holds errant transactions; rejoining',
    );
  });

  it('without REJOIN_FENCED=auto, a clean fenced node waits for a rejoin: that is its concern', async () => {
    const { r, admin, logs, pass } = setup(false);
    await pass([view(m1, '0-1-102'), primary, replica]);
    await pass([view(m1, '0-1-100'), primary, replica]); // restarted, not yet rejoined
    expect(admin.replicate).not.toHaveBeenCalled();
    expect(r.concerns()).toEqual([
      expect.objectContaining({ kind: 'fenced', node: 'mariadb-1', primary: 'mariadb-2' }),
    ]);
    expect(r.concerns()?.[0].gtids).toBeUndefined();
    // no longer errant, but not rejoining either
    expect(logs.map((l) => l.msg)).toContain('mariadb-1 no longer holds errant transactions');
  });

  it('holds a replica ahead of the primary with the GTIDs it has extra, until it follows again', async () => {
    const { r, pass } = setup();
    const ahead = view(m3, '0-1-100,0-2-140,0-3-141', { follows: m1, io: 'Connecting' });
    await pass([primary, ahead]);
    expect(r.concerns()).toEqual([
      expect.objectContaining({ kind: 'diverged', node: 'mariadb-3', gtids: ['0-3-141'] }),
    ]);
    await pass([primary, replica]);
    expect(r.concerns()).toEqual([]);
  });

  it('keeps a concern about the whole cluster while no topology is published', async () => {
    const { r, admin, store } = setup();
    admin.view.mockImplementation(async (n: NodeAddress) => view(n, '', { readOnly: false }));
    expect(await r.ensurePublished(3)).toBe(false);
    expect(r.concerns()).toEqual([expect.objectContaining({ kind: 'discovery' })]);
    expect(r.concerns()?.[0].node).toBeUndefined();
    admin.view.mockImplementation(async (n: NodeAddress) =>
      view(n, '', { readOnly: n.name !== 'mariadb-1' }),
    );
    expect(await r.ensurePublished(3)).toBe(true);
    expect(store.publish).toHaveBeenCalled();
    expect(r.concerns()).toEqual([]);
  });

  it('forgets everything on reset (deposed: the next leader reports its own)', async () => {
    const { r, pass } = setup();
    await pass([view(m1, '0-1-102'), primary, replica]);
    r.reset();
    expect(r.concerns()).toBeUndefined();
  });
});

/**
 * The statements `rebuildFrom` runs, answered as a primary with two tables
 * (1,200 and 30 rows) would answer them; every statement run on the node is
 * recorded. `on(sql)` runs before the node answers one (a slow one: a promise
 * that only a closed connection ends).
 */
function fakeMariaDb(on: (sql: string) => Promise<void> | void = () => undefined) {
  const onNode: string[] = [];
  const tables: Record<string, number> = { bookings: 1_200, guests: 30 };
  const answer = (sql: string, values: unknown[] = []): unknown[] => {
    if (sql.includes('binlog_snapshot_%'))
      return [
        { Variable_name: 'Binlog_snapshot_file', Value: 'bin.000003' },
        { Variable_name: 'Binlog_snapshot_position', Value: '4711' },
      ];
    if (sql.includes('BINLOG_GTID_POS')) return [{ gtid: '0-1-100,0-2-140' }];
    if (sql.includes('@@gtid_binlog_state')) return [{ state: '0-1-102' }];
    if (sql.includes("TABLE_TYPE = 'BASE TABLE'"))
      return Object.keys(tables).map((name) => ({ db: 'stayline', name }));
    if (sql.includes('COUNT(*) AS n')) return [{ n: 1 }];
    if (sql.startsWith('SHOW KEYS')) return [{ Column_name: 'id', Seq_in_index: 1 }];
    if (sql.startsWith('SELECT *')) {
      const [, name, limit, offset] = values as [string, string, number, number];
      const n = Math.max(0, Math.min(limit, tables[name] - offset));
      return Array.from({ length: n }, (_, i) => [offset + i]);
    }
    return [];
  };
  const connect = (n: NodeAddress) => {
    let cut: (err: Error) => void = () => undefined;
    const closed = new Promise<never>((_, reject) => (cut = reject));
    closed.catch(() => undefined);
    return {
      escapeId: (id: string) => `\`${id}\``,
      destroy: () => cut(new Error('Connection lost: the server closed the connection.')),
      query: (q: string | { sql: string; values?: unknown[] }, params?: unknown[]) => {
        const sql = typeof q === 'string' ? q : q.sql;
        const values = typeof q === 'string' ? params : q.values;
        const run = async () => {
          if (n.name === m1.name) {
            onNode.push(values?.length ? `${sql} ${JSON.stringify(values.slice(0, 2))}` : sql);
            await on(sql);
          }
          return [answer(sql, values), []];
        };
        return Promise.race([run(), closed]);
      },
    };
  };
  const admin = {
    run: <T>(n: NodeAddress, work: (c: unknown) => Promise<T>) => work(connect(n)),
    replicate: async (n: NodeAddress) => void onNode.push(`START SLAVE on ${n.name}`),
  } as unknown as MariaDbAdmin;
  const rebuild: ReconcilerDeps['rebuild'] = (node, primary, guard) =>
    rebuildFrom(admin, node, primary, guard);
  /** What was run on the node that changes it (not the session settings, not reads). */
  const changes = () =>
    onNode.filter((s) => /^(REPLACE|STOP|RESET|DELETE|INSERT|CREATE|SET GLOBAL|START)/.test(s));
  return { rebuild, onNode, changes };
}

const back = view(m1, '0-1-102');
const inserts = (statements: string[]) => statements.filter((s) => s.startsWith('INSERT'));

describe('TopologyReconciler rebuilds, fenced by its token and the topology', () => {
  it('rebuilds the node all the way when nothing moves: marked first, the mark cleared last', async () => {
    const sql = fakeMariaDb();
    const { r, store, logs, pass } = setup(true, sql.rebuild);
    store.current.mockImplementation(async () => published());
    await pass([back, primary, replica]);
    await r.settled();
    const changes = sql.changes();
    // the mark (its table created if need be) before anything else
    const marked = changes.findIndex((c) => c.startsWith('REPLACE INTO ??.?? VALUES'));
    expect(changes.slice(0, marked).every((c) => c.includes('stayline_agent'))).toBe(true);
    expect(changes[marked + 1]).toBe('STOP SLAVE');
    expect(changes).toContain('RESET MASTER');
    expect(changes.at(-2)).toBe('START SLAVE on mariadb-1');
    expect(changes.at(-1)).toBe('DELETE FROM ??.?? ["stayline_agent","rebuild"]');
    expect(inserts(changes)).toHaveLength(4); // 3 pages of bookings, 1 of guests
    expect(logs.map((l) => l.msg)).toContainEqual(
      expect.stringMatching(
        /^mariadb-1 rebuilt from mariadb-2 in \d+ ms \(1230 rows, 2 tables\): replicating from 0-1-100,0-2-140$/,
      ),
    );
  });

  it.each([
    ['leadership lost', 'leadership lost'],
    ['a newer leader recorded its token', 'leadership lost (token 4 recorded on the topology'],
    ['another primary promoted', 'primary changed (mariadb-2 -> mariadb-3, epoch 8)'],
    ['the node no longer fenced', 'mariadb-1 is no longer fenced (epoch 8)'],
  ])('stops before its next change to the node once %s', async (change, why) => {
    let loss = -1;
    const sql = fakeMariaDb((s) => {
      if (!s.startsWith('INSERT') || inserts(sql.onNode).length !== 2) return;
      loss = sql.onNode.length; // during the second page of bookings
      if (change === 'leadership lost') election.token = undefined;
      else if (change === 'a newer leader recorded its token')
        store.current.mockImplementation(async () => ({ ...published(), token: 4 }));
      else if (change === 'another primary promoted')
        store.current.mockImplementation(async () =>
          published({ epoch: 8, primary: m3, replicas: [], fenced: ['mariadb-1', 'mariadb-2'] }),
        );
      else store.current.mockImplementation(async () => published({ epoch: 8, fenced: [] }));
    });
    const { r, store, election, logs, pass } = setup(true, sql.rebuild);
    store.current.mockImplementation(async () => published());
    await pass([back, primary, replica]);
    await r.settled();
    expect(loss).toBeGreaterThan(0);
    expect(sql.onNode.slice(loss)).toEqual([]); // nothing run on the node after the change
    expect(sql.changes()).not.toContain('RESET MASTER');
    expect(sql.changes().some((s) => s.startsWith('START SLAVE'))).toBe(false);
    const stop = logs.find((l) => l.msg.startsWith('rebuild of mariadb-1 stopped: '));
    expect(stop?.level).toBe('warn');
    expect(stop?.msg).toContain(`rebuild of mariadb-1 stopped: ${why}`);
    expect(stop?.msg).toContain('(before copying stayline.bookings (rows from 1000))');
    expect(stop?.msg).toContain('mariadb-1 stays fenced and read-only, marked half-rebuilt');
  });

  it('stops on reset, cutting the statement under way, and settles', async () => {
    let under: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (under = resolve));
    const sql = fakeMariaDb((s) => {
      if (!s.startsWith('INSERT')) return;
      under();
      return new Promise<void>(() => undefined); // a slow page: only the cut ends it
    });
    const { r, store, logs, pass } = setup(true, sql.rebuild);
    store.current.mockImplementation(async () => published());
    await pass([back, primary, replica]);
    await reached;
    const before = sql.onNode.length;
    r.reset();
    await r.settled();
    expect(sql.onNode.slice(before)).toEqual([]);
    expect(sql.changes()).not.toContain('RESET MASTER');
    expect(logs.map((l) => l.msg)).toContainEqual(
      expect.stringMatching(
        /^rebuild of mariadb-1 stopped: leadership lost \(during copying stayline\.bookings \(rows from 0\)\)/,
      ),
    );
  });

  it('leaves a node stopped half-way fenced, read-only and marked: the next leader rebuilds it again', async () => {
    // this leader loses its lease just as the node's binary log is reset
    const sql = fakeMariaDb((s) => {
      if (s === 'RESET MASTER') first.election.token = undefined;
    });
    const first = setup(true, sql.rebuild);
    first.store.current.mockImplementation(async () => published());
    await first.pass([back, primary, replica]);
    await first.r.settled();
    expect(sql.changes().some((s) => /read_only|START SLAVE|gtid_slave_pos/.test(s))).toBe(false);
    // the mark was set and never cleared
    expect(sql.changes().filter((s) => s.includes('"stayline_agent","rebuild"'))).toEqual([
      'REPLACE INTO ??.?? VALUES (1, ?, ?, ?) ["stayline_agent","rebuild"]',
    ]);

    // what the next leader finds: no errant GTID left in its log, but the mark
    const mark = { from: 'mariadb-2', discarded: '0-1-102', at: '2026-11-25T20:00:01.000Z' };
    const rebuild = jest.fn(async (): Promise<RebuildReport> => {
      throw new Error('unreachable');
    });
    const next = setup(true, rebuild, 'agent-2');
    await next.pass([view(m1, '', { rebuild: mark }), primary, replica]);
    expect(rebuild).toHaveBeenCalledWith(m1, m2, expect.anything());
    expect(next.admin.replicate).not.toHaveBeenCalled(); // not rejoined from an empty log
    expect(next.r.concerns()).toEqual([
      expect.objectContaining({ kind: 'errant-gtids', node: 'mariadb-1', gtids: ['0-1-102'] }),
    ]);
    expect(next.r.concerns()?.[0].text).toBe(
      'mariadb-1 is fenced and was left half-rebuilt (a rebuild from mariadb-2 started 2026-11-25T20:00:01.000Z stopped): rebuilding it from mariadb-2',
    );
    await next.r.settled();

    // even replicating from the primary, a marked node is not admitted as it is
    await next.pass([view(m1, '0-2-140', { follows: m2, rebuild: mark }), primary, replica]);
    expect(next.store.publish).not.toHaveBeenCalled();
    expect(rebuild).toHaveBeenCalledTimes(2);
  });

  it('with the same token, a half-rebuilt node still holding its errant GTIDs is rebuilt again', async () => {
    const rebuild = jest.fn(async (): Promise<RebuildReport> => ({
      snapshotPos: '0-2-140',
      discardedState: '0-1-102',
      tables: 2,
      rows: 1_230,
      ms: 5,
    }));
    const { r, pass } = setup(true, rebuild, 'agent-2');
    const mark = { from: 'mariadb-2', discarded: '0-1-102', at: '2026-11-25T20:00:01.000Z' };
    await pass([view(m1, '0-1-102', { rebuild: mark }), primary, replica]);
    await r.settled();
    expect(rebuild).toHaveBeenCalledTimes(1);
    expect(r.concerns()?.[0].text).toMatch(
      /^mariadb-1 is fenced and holds 0-1-102 that mariadb-2 lacks .*: rebuilding it from mariadb-2, discarding them$/,
    );
  });
});
