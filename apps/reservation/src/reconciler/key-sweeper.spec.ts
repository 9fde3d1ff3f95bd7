import type { ReplicaRouter } from '@stayline/database';
import type { Logger } from 'pino';
import { IdempotencyKeySweeper, sweepEveryMs } from './key-sweeper';

/** A router whose primary has `expired` keys to delete; records each statement. */
function fakeRouter(expired: number) {
  const statements: Array<{ sql: string; params: unknown[] }> = [];
  let left = expired;
  const manager = {
    query: async (sql: string, params: unknown[]) => {
      statements.push({ sql, params });
      const limit = params[1] as number;
      const n = Math.min(left, limit);
      left -= n;
      return { affectedRows: n };
    },
  };
  const db = {
    write: async <T>(work: (m: typeof manager) => Promise<T>) => work(manager),
  } as unknown as ReplicaRouter;
  return { db, statements, left: () => left };
}
const logger = { info: jest.fn() } as unknown as Logger;

describe('IdempotencyKeySweeper', () => {
  it('deletes in batches of a bounded size until a short batch, on the primary (write)', async () => {
    const { db, statements, left } = fakeRouter(1_050);
    const sweeper = new IdempotencyKeySweeper(db, logger, 86_400, 500, 20, 60_000);
    expect(await sweeper.run(0)).toBe(1_050);
    expect(statements).toHaveLength(3);
    expect(statements[0].sql).toMatch(
      /^DELETE FROM idempotency_keys WHERE created_at <= .* LIMIT \?$/,
    );
    expect(statements[0].params).toEqual([86_400, 500]);
    expect(left()).toBe(0);
  });

  it('stops a pass after maxBatches, leaving the rest for the next one when it is due', async () => {
    const { db, statements, left } = fakeRouter(10_000);
    const sweeper = new IdempotencyKeySweeper(db, logger, 60, 100, 4, 60_000);
    expect(await sweeper.run(1_000)).toBe(400);
    expect(left()).toBe(9_600);
    // not due yet: nothing sent
    expect(await sweeper.run(30_000)).toBe(0);
    expect(statements).toHaveLength(4);
    expect(await sweeper.run(61_000)).toBe(400);
    expect(left()).toBe(9_200);
  });

  it('runs as often as keys expire, at most once a minute', () => {
    expect(sweepEveryMs(86_400)).toBe(60_000);
    expect(sweepEveryMs(2)).toBe(2_000);
  });
});
