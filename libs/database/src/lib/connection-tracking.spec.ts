import { gtidTracking, trackGtids } from './connection-tracking';

type Callback = (err: unknown, result?: unknown) => void;

/** A connection that answers each query with the next of `answers` and records what it was sent. */
function fakeConnection(answers: Array<{ err?: unknown; result?: unknown }>) {
  const sent: string[] = [];
  let promises = 0;
  const conn = {
    query(sql: string, ...rest: unknown[]) {
      sent.push(sql);
      const { err, result } = answers.shift() ?? { result: {} };
      (rest[rest.length - 1] as Callback)(err ?? null, result);
    },
    promise() {
      promises++;
      return { wrapper: promises };
    },
  };
  return { conn, sent, promises: () => promises };
}

const ok = (gtid?: string) => ({
  result: gtid ? { affectedRows: 1, stateChanges: { systemVariables: { last_gtid: gtid } } } : {},
});

describe('GTID session tracking', () => {
  it('asks the session for last_gtid first, then reads it from the OK packet of each commit', () => {
    const { conn, sent } = fakeConnection([ok(), ok(), ok('0-1-10'), ok('0-1-11'), ok()]);
    trackGtids(conn);
    expect(sent).toEqual(["SET SESSION session_track_system_variables = 'last_gtid'"]);
    const tracking = gtidTracking(conn);
    expect(tracking).toBeDefined();
    tracking?.clear();
    const results: unknown[] = [];
    conn.query('SELECT 1', (_e: unknown, r: unknown) => results.push(r));
    expect(tracking?.last()).toBe('');
    conn.query('INSERT ...', [1], (_e: unknown, r: unknown) => results.push(r));
    conn.query('COMMIT', (_e: unknown, r: unknown) => results.push(r));
    expect(tracking?.last()).toBe('0-1-11');
    // the caller still gets every result as it came
    expect(results).toHaveLength(3);
    tracking?.clear();
    expect(tracking?.last()).toBe('');
  });

  it('does not vouch for a unit of work in which a statement answered rows: its write may be unseen', () => {
    const rows = { result: [{ id: 1 }] };
    const { conn } = fakeConnection([ok(), ok('0-1-20'), rows, ok()]);
    trackGtids(conn);
    const tracking = gtidTracking(conn);
    tracking?.clear();
    conn.query('UPDATE ...', () => undefined);
    expect(tracking?.last()).toBe('0-1-20');
    conn.query('INSERT ... RETURNING id', () => undefined); // committed a write, reported nothing
    expect(tracking?.last()).toBeUndefined();
    // cleared right before a COMMIT, what counts is what the COMMIT reports
    tracking?.clear();
    conn.query('COMMIT', () => undefined);
    expect(tracking?.last()).toBe('');
  });

  it('does not track a session that refused it: the writer asks with SELECT @@last_gtid', () => {
    const { conn } = fakeConnection([{ err: new Error('Unknown system variable') }]);
    trackGtids(conn);
    expect(gtidTracking(conn)).toBeUndefined();
    expect(gtidTracking(undefined)).toBeUndefined();
    expect(gtidTracking({})).toBeUndefined();
  });

  it('keeps one promise wrapper per connection', () => {
    const { conn, promises } = fakeConnection([ok()]);
    trackGtids(conn);
    expect(conn.promise()).toBe(conn.promise());
    expect(promises()).toBe(1);
  });
});
