import pino from 'pino';
import type { EntityManager, QueryRunner } from 'typeorm';
import { trackGtids } from './connection-tracking';
import type { NodeSet } from './node-set';
import { PrimaryWriter } from './primary-writer';
import type { RouterMetrics } from './router-metrics';

/**
 * A primary that records every statement sent on its one connection; with
 * `tracked`, its session reports the GTID of each commit that wrote in the
 * OK packet (not at the end of rows, as mysql2 reads them).
 */
function fakePrimary(gtid = '0-1-42', tracked = false) {
  const sent: string[] = [];
  let inTx = false;
  let wrote = false;
  const reported = { stateChanges: { systemVariables: { last_gtid: gtid } } };
  const conn = {
    query: (sql: string, done: (err: unknown, result: unknown) => void) => {
      if (sql.startsWith('SELECT') || sql.includes('RETURNING')) return done(null, [{ gtid }]);
      if (sql === 'COMMIT') return done(null, wrote ? reported : {});
      wrote ||= sql.startsWith('INSERT');
      done(null, inTx ? {} : reported);
    },
  };
  if (tracked) trackGtids(conn);
  const send = (sql: string) => {
    sent.push(sql);
    return new Promise<unknown>((resolve) => conn.query(sql, (_e, r) => resolve(r)));
  };
  const qr = {
    databaseConnection: conn,
    manager: { query: send } as unknown as EntityManager,
    isTransactionActive: false,
    query: send,
    startTransaction: async () => {
      sent.push('START TRANSACTION');
      inTx = true;
      wrote = false;
      qr.isTransactionActive = true;
    },
    commitTransaction: async () => {
      await send('COMMIT');
      inTx = false;
      qr.isTransactionActive = false;
    },
    rollbackTransaction: async () => undefined,
  };
  const node = {
    name: 'mariadb-1',
    run: <T>(_mode: string, work: (q: QueryRunner) => Promise<T>) =>
      work(qr as unknown as QueryRunner),
  };
  const nodes = { topology: { epoch: 1 }, primary: () => node } as unknown as NodeSet;
  const metrics = { query: () => undefined } as unknown as RouterMetrics;
  const writer = new PrimaryWriter(nodes, metrics, pino({ enabled: false }), 1_000);
  return { writer, sent };
}

describe('PrimaryWriter', () => {
  it("reads the write's GTID after it and adds it to the session's token", async () => {
    const { writer, sent } = fakePrimary();
    const session: { consistencyToken?: string } = {};
    await writer.run(true, (m) => m.query('INSERT INTO t VALUES (1)'), { session });
    expect(sent).toEqual([
      'START TRANSACTION',
      'INSERT INTO t VALUES (1)',
      'COMMIT',
      'SELECT @@last_gtid AS gtid',
    ]);
    expect(session.consistencyToken).toBe('0-1-42');
  });

  it('takes the GTID from the commit when the session reports it: no SELECT after the commit', async () => {
    const { writer, sent } = fakePrimary('0-1-43', true);
    const session: { consistencyToken?: string } = {};
    await writer.run(true, (m) => m.query('INSERT INTO t VALUES (1)'), { session });
    expect(sent).toEqual(['START TRANSACTION', 'INSERT INTO t VALUES (1)', 'COMMIT']);
    expect(session.consistencyToken).toBe('0-1-43');
    // a transaction that wrote nothing reports none: no token from an earlier use of the connection
    const fresh: { consistencyToken?: string } = {};
    await writer.run(true, (m) => m.query('SELECT 1'), { session: fresh });
    expect(fresh).toEqual({});
  });

  it('asks the session after autocommitted work whose statements answered rows', async () => {
    const { writer, sent } = fakePrimary('0-1-44', true);
    const session: { consistencyToken?: string } = {};
    // an INSERT ... RETURNING commits by itself and answers rows: its GTID comes in no OK packet
    await writer.run(false, (m) => m.query('INSERT INTO t VALUES (1) RETURNING id'), { session });
    expect(sent).toEqual(['INSERT INTO t VALUES (1) RETURNING id', 'SELECT @@last_gtid AS gtid']);
    expect(session.consistencyToken).toBe('0-1-44');
  });

  it('sends nothing after readOnly work, and leaves the token as it was', async () => {
    const { writer, sent } = fakePrimary();
    const session = { consistencyToken: '0-1-7' };
    const value = await writer.run(
      false,
      async (m) => {
        await m.query('SELECT 1');
        return 'read';
      },
      { session, readOnly: true },
    );
    expect(value).toBe('read');
    expect(sent).toEqual(['SELECT 1']);
    expect(session).toEqual({ consistencyToken: '0-1-7' });
  });
});
