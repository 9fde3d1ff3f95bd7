import pino from 'pino';
import type { EntityManager, QueryRunner } from 'typeorm';
import type { NodeSet } from './node-set';
import { PrimaryWriter } from './primary-writer';
import type { RouterMetrics } from './router-metrics';

/** A primary that records every statement sent on its one connection. */
function fakePrimary(gtid = '0-1-42') {
  const sent: string[] = [];
  const qr = {
    manager: {
      query: async (sql: string) => {
        sent.push(sql);
        return [];
      },
    } as unknown as EntityManager,
    isTransactionActive: false,
    query: async (sql: string) => {
      sent.push(sql);
      return [{ gtid }];
    },
    startTransaction: async () => {
      sent.push('START TRANSACTION');
      qr.isTransactionActive = true;
    },
    commitTransaction: async () => {
      sent.push('COMMIT');
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
