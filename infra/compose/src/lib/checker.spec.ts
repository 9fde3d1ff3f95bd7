import type { Sample } from '@stayline/fault-kit';
import type { HttpReply } from '@stayline/stack-kit';
import {
  acksAfterNewerPrimary,
  commitsAfterNewerPrimary,
  historyOf,
  least,
  most,
  outcomeOf,
  parseLook,
  verdictOf,
  type BinlogGtids,
  type NodeSample,
  type Operation,
} from './checker';

/** Looks every 500 ms, each taking 100 ms, from a script of states per node. */
function looks(script: Record<string, Array<[readOnly: boolean, pos: string]>>): NodeSample[] {
  const samples: NodeSample[] = [];
  for (const [node, states] of Object.entries(script))
    states.forEach(([readOnly, binlogPos], i) =>
      samples.push({
        node,
        serverId: Number(node.at(-1)),
        start: i * 500,
        at: i * 500 + 100,
        readOnly,
        binlogPos,
      }),
    );
  return samples;
}

const binlogs = (gtids: string[]): BinlogGtids => ({
  gtids: new Set(gtids),
  reach: Math.min(...gtids.map((g) => Number(g.split('-')[2]))),
});

describe('the two-primary rule on sampled read_only flags and binlog positions', () => {
  // mariadb-1 is primary and isolated at look 3; it logs 0-1-271 at look 4 (errant: no
  // replica acknowledges it); mariadb-2, which had applied up to 0-1-264, is promoted at
  // look 3 and writes 0-2-265.. from look 4 on: its sequence numbers are lower than the
  // isolated node's, and its first own write comes after the isolated node's first.
  const isolated = looks({
    'mariadb-1': [
      [false, '0-1-260'],
      [false, '0-1-262'],
      [false, '0-1-264'],
      [false, '0-1-266'],
      [false, '0-1-266'],
      [false, '0-1-271'],
      [true, '0-1-271'],
    ],
    'mariadb-2': [
      [true, '0-1-260'],
      [true, '0-1-262'],
      [true, '0-1-264'],
      [false, '0-1-264'],
      [false, '0-2-266'],
      [false, '0-2-280'],
      [false, '0-2-300'],
    ],
  });

  it("flags the isolated primary's write after the promotion, not the new primary's", () => {
    const late = commitsAfterNewerPrimary(isolated);
    expect(late).toEqual([
      expect.objectContaining({
        node: 'mariadb-1',
        fromSeq: 266,
        toSeq: 271,
        newer: 'mariadb-2',
      }),
    ]);
  });

  it('counts it discarded when no binlog holds it, and a violation when one does', () => {
    const [c] = commitsAfterNewerPrimary(isolated);
    const rebuilt = binlogs(['0-1-250', '0-1-264', '0-2-265', '0-2-300']);
    expect(verdictOf(c, rebuilt)).toBe('discarded');
    const kept = binlogs(['0-1-250', '0-1-264', '0-2-265', '0-1-271', '0-2-300']);
    expect(verdictOf(c, kept)).toBe('held');
    // a server's later term (sequence numbers above the range) is not the write
    expect(verdictOf(c, binlogs(['0-1-250', '0-2-300', '0-1-301']))).toBe('discarded');
    // binlogs that all begin after it (every node rebuilt since): it cannot be told
    expect(verdictOf(c, binlogs(['0-2-290', '0-2-300']))).toBe('unknown');
  });

  it("does not flag a node's writes in a term that began after the other's", () => {
    // mariadb-2 was promoted, then mariadb-1 again (a failback): mariadb-1's writes in its
    // new term are its own, and mariadb-2 stops writing once it is read-only
    const failback = looks({
      'mariadb-1': [
        [false, '0-1-10'],
        [true, '0-1-10'],
        [true, '0-2-12'],
        [false, '0-2-12'],
        [false, '0-1-13'],
      ],
      'mariadb-2': [
        [true, '0-1-10'],
        [false, '0-2-11'],
        [false, '0-2-12'],
        [true, '0-2-12'],
        [true, '0-1-13'],
      ],
    });
    expect(commitsAfterNewerPrimary(failback)).toEqual([]);
  });

  it('flags a write the old primary logged after the promotion, also when the promotion came between two of its looks', () => {
    const overlap = looks({
      'mariadb-1': [
        [false, '0-1-5'],
        [false, '0-1-6'],
        [false, '0-1-6'],
        [false, '0-1-6'],
        [false, '0-1-9'],
      ],
      'mariadb-3': [
        [true, '0-1-5'],
        [true, '0-1-6'],
        [false, '0-1-6'],
        [false, '0-3-7'],
        [false, '0-3-8'],
      ],
    });
    const late = commitsAfterNewerPrimary(overlap);
    expect(late.map((c) => [c.node, c.fromSeq, c.toSeq, c.newer])).toEqual([
      ['mariadb-1', 6, 9, 'mariadb-3'],
    ]);
    // a write logged while the promotion may not have happened yet is not flagged
    const close = looks({
      'mariadb-1': [
        [false, '0-1-5'],
        [false, '0-1-6'],
        [false, '0-1-7'],
      ],
      'mariadb-3': [
        [true, '0-1-5'],
        [true, '0-1-5'],
        [false, '0-1-6'],
      ],
    });
    expect(commitsAfterNewerPrimary(close)).toEqual([]);
  });
});

describe('a look at a node', () => {
  it('is one whole row, or nothing', () => {
    expect(parseLook('2\t0\t0-2-17\n')).toEqual({
      serverId: 2,
      readOnly: false,
      binlogPos: '0-2-17',
    });
    expect(parseLook('3\t1\t\n')).toEqual({ serverId: 3, readOnly: true, binlogPos: '' });
    // an empty or cut answer is not a writable node
    for (const bad of ['', '\n', '3', '3\t', '3\t\t0-3-1', 'ERROR 2002\n', '0\t0\t'])
      expect(parseLook(bad)).toBeUndefined();
  });
});

describe('least and most', () => {
  it('take an hour of history without overflowing the stack', () => {
    const xs = Array.from({ length: 500_000 }, (_, i) => (i * 7919) % 1_000_003);
    expect(least(xs)).toBe(0);
    expect(most(xs)).toBe(xs.reduce((a, x) => Math.max(a, x), 0));
    expect(least([])).toBe(Infinity);
  });
});

describe('bookings acknowledged after another node was promoted', () => {
  const op = (server: number, start: number): Operation => ({
    key: `k-${server}-${start}`,
    outcome: 'acknowledged',
    status: 201,
    start,
    end: start + 50,
    server,
  });
  // mariadb-1 primary, then mariadb-2 (promoted at look 2), then mariadb-1 again (look 4)
  const failback = looks({
    'mariadb-1': [
      [false, '0-1-1'],
      [true, '0-1-1'],
      [true, '0-2-3'],
      [true, '0-2-3'],
      [false, '0-2-3'],
      [false, '0-1-9'],
    ],
    'mariadb-2': [
      [true, '0-1-1'],
      [true, '0-1-1'],
      [false, '0-2-3'],
      [false, '0-2-3'],
      [true, '0-2-3'],
      [true, '0-1-9'],
    ],
  });

  it('does not take a failback for two primaries', () => {
    // each server acknowledged within its own terms
    const acked = [op(1, 0), op(2, 1_300), op(1, 2_200)];
    expect(acksAfterNewerPrimary(acked, failback)).toEqual([]);
  });

  it('finds a booking the old primary acknowledged after the promotion', () => {
    const acked = [op(1, 0), op(2, 1_300), op(1, 1_400)];
    expect(acksAfterNewerPrimary(acked, failback)).toEqual([
      { op: acked[2], node: 'mariadb-1', newer: 'mariadb-2' },
    ]);
  });
});

describe('the history of a booking load', () => {
  const reply = (status: number, body: unknown, token?: string): HttpReply =>
    ({
      status,
      headers: token ? { 'x-consistency-token': token } : {},
      body: JSON.stringify(body),
      json: () => body,
    }) as unknown as HttpReply;
  const sample = (n: number, status: number, r?: HttpReply): Sample => ({
    n,
    at: 100 + n,
    ms: 10,
    status,
    reply: r,
  });

  it('counts a 401 (a token that expired while a fault kept it from being renewed) as refused', () => {
    expect(outcomeOf(401)).toBe('refused');
    const [op] = historyOf(
      [sample(0, 401, reply(401, { error: 'invalid_token', id: 'not-a-booking' }, '0-1-9'))],
      (n) => `k-${n}`,
    );
    expect(op).toMatchObject({ key: 'k-0', outcome: 'refused', status: 401 });
    expect([op.reservationId, op.server, op.seq]).toEqual([undefined, undefined, undefined]);
  });

  it('takes the reservation and the committing server of an acknowledged booking', () => {
    const [op] = historyOf([sample(3, 201, reply(201, { id: 'r-3' }, '0-2-41'))], (n) => `k-${n}`);
    expect(op).toMatchObject({
      key: 'k-3',
      outcome: 'acknowledged',
      reservationId: 'r-3',
      server: 2,
      seq: 41,
    });
    expect(outcomeOf(0)).toBe('indeterminate');
    expect(outcomeOf(503)).toBe('refused');
  });

  it('tells a cancel from a booking: it names the reservation it cancels and makes none', () => {
    const history = historyOf(
      [
        sample(0, 201, reply(201, { id: 'r-0' }, '0-1-7')),
        sample(1, 200, reply(200, { id: 'r-0', status: 'CANCELLED' }, '0-1-8')),
        sample(2, 0),
      ],
      (n) => (n === 1 ? 'cancel-r-0' : `k-${n}`),
      (n) => (n === 1 ? 'r-0' : undefined),
    );
    expect(history.map((o) => [o.key, o.cancels, o.reservationId, o.outcome])).toEqual([
      ['k-0', undefined, 'r-0', 'acknowledged'],
      ['cancel-r-0', 'r-0', undefined, 'acknowledged'],
      ['k-2', undefined, undefined, 'indeterminate'],
    ]);
    // a cancel's committing server counts for the two-primary rule like a booking's
    expect(history[1]).toMatchObject({ server: 1, seq: 8 });
  });
});
