import { EntityManager } from 'typeorm';

/** A write refused because a newer leader has written since this one was elected. */
export class StaleLeaderError extends Error {
  constructor(name: string, token: number) {
    super(`fencing token ${token} for ${name} is stale: a newer leader has written`);
  }
}

/**
 * The fencing check, in SQL, inside the caller's transaction: the database keeps
 * the highest token that has written under `name`, and a write carrying a lower
 * one is refused. A leader that was deposed while frozen (SIGSTOP, GC pause) and
 * wakes up believing it still leads can therefore change nothing.
 * (mysql2 reports matched rows, so an equal token counts as allowed.)
 */
export async function fence(m: EntityManager, name: string, token: number): Promise<void> {
  await m.query('INSERT IGNORE INTO fencing (name, token) VALUES (?, 0)', [name]);
  const res = (await m.query('UPDATE fencing SET token = ? WHERE name = ? AND token <= ?', [
    token,
    name,
    token,
  ])) as {
    affectedRows: number;
  };
  if (res.affectedRows !== 1) throw new StaleLeaderError(name, token);
}
