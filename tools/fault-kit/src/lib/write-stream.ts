/**
 * A steady write stream through a ReplicaRouter that follows the published
 * topology, exactly as a service's router does, recording every acknowledged
 * write (the commit returned). The failover fault tests, `npm run chaos`, the
 * demos and the bench check them against every node after a failover; it lives
 * in the demo kit so that infra and the apps' tests can share it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RedisTopologySource,
  ReplicaRouter,
  RetryableWriteError,
  StaleTopologyError,
} from '@stayline/database';
import { adminConnection, Stack, waitFor } from '@stayline/stack-kit';
import { pino } from 'pino';

/** One acknowledged write: its id, when it was sent and when its commit returned (ms, performance.now). */
export interface Ack {
  id: string;
  sentAt: number;
  ackedAt: number;
  /** `@@server_id` of the node that committed it (the launcher numbers mariadb-N as N). */
  servedBy: number;
}

export interface WriteStreamOptions {
  /** Writers in parallel. Default 4. */
  concurrency?: number;
  /** Table in the `reservation` database. Default `failover_probe`. */
  table?: string;
  /** Pause between two writes of one writer. Default 5 ms. */
  pauseMs?: number;
}

/**
 * Each writer inserts rows with fresh ids in transactions. A RetryableWriteError
 * is retried with the same id after 20 ms; a duplicate key after an `unknown`
 * outcome means the earlier attempt landed (and was acknowledged by semi-sync).
 */
export class WriteStream {
  readonly acks: Ack[] = [];
  readonly errors: string[] = [];
  /** Errors the router gave and the writers retried (the outage as the client felt it). */
  retried = 0;
  private running = true;
  private loops: Promise<void>[] = [];
  private stopWatch?: () => Promise<void>;

  private constructor(
    readonly router: ReplicaRouter,
    private readonly source: RedisTopologySource,
    private readonly table: string,
    private readonly pauseMs: number,
  ) {}

  static async start(stack: Stack, o: WriteStreamOptions = {}): Promise<WriteStream> {
    const source = new RedisTopologySource({ redis: stack.redisTarget('service') });
    const current = (await source.current())?.topology;
    if (!current) {
      await source.close();
      throw new Error('no topology published: start the failover agents first');
    }
    const router = await ReplicaRouter.create({
      database: 'reservation',
      ...stack.credentials.app,
      topology: current,
      writeTimeoutMs: 5_000,
      logger: pino({ level: process.env.STAYLINE_LOG_LEVEL ?? 'silent' }),
    });
    const table = o.table ?? 'failover_probe';
    const stream = new WriteStream(router, source, table, o.pauseMs ?? 5);
    stream.stopWatch = await source.watch((t) => {
      router.updateTopology(t).catch((err: unknown) => {
        if (!(err instanceof StaleTopologyError)) stream.errors.push(`topology: ${String(err)}`);
      });
    });
    await router.write((m) =>
      m.query(
        `CREATE TABLE IF NOT EXISTS ${table} (id VARCHAR(64) PRIMARY KEY, at DATETIME(3) NOT NULL)`,
      ),
    );
    const prefix = `w${Date.now().toString(36)}`;
    stream.loops = Array.from({ length: o.concurrency ?? 4 }, (_, i) =>
      stream.loop(`${prefix}-${i}`),
    );
    return stream;
  }

  /** The epoch the router runs on. */
  get epoch(): number {
    return this.router.status().topology.epoch;
  }

  /** The first write sent after `t` that was acknowledged (by the node with server id `by`, if given). */
  firstAckSentAfter(t: number, by?: number): Ack | undefined {
    let first: Ack | undefined;
    for (const a of this.acks) {
      if (a.sentAt <= t || (by !== undefined && a.servedBy !== by)) continue;
      if (!first || a.ackedAt < first.ackedAt) first = a;
    }
    return first;
  }

  /** Waits until a write sent after `t` was acknowledged (by server id `by`, if given); returns it. */
  async resumedAfter(t: number, timeoutMs = 30_000, by?: number): Promise<Ack> {
    await waitFor(
      'the write stream to resume',
      async () => Boolean(this.firstAckSentAfter(t, by)),
      {
        timeoutMs,
        intervalMs: 5,
      },
    );
    return this.firstAckSentAfter(t, by) as Ack;
  }

  /** Acknowledged ids missing from a node, read straight from it. */
  async missingOn(stack: Stack, node: string): Promise<string[]> {
    const acked = [...this.acks];
    const conn = await adminConnection(stack.component(node), stack.credentials);
    try {
      const [rows] = await conn.query(`SELECT id FROM reservation.${this.table}`);
      const present = new Set((rows as Array<{ id: string }>).map((r) => r.id));
      return acked.filter((a) => !present.has(a.id)).map((a) => a.id);
    } finally {
      await conn.end();
    }
  }

  /** Waits until every acknowledged write is on each of `nodes` (replicas catching up). */
  async heldOn(stack: Stack, nodes: string[], timeoutMs = 10_000): Promise<void> {
    await waitFor(
      `every acknowledged write on ${nodes.join(', ')}`,
      async () =>
        (await Promise.all(nodes.map((n) => this.missingOn(stack, n)))).every(
          (m) => m.length === 0,
        ),
      { timeoutMs, intervalMs: 100 },
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await this.stopWatch?.();
    await this.source.close();
    await this.router.close();
  }

  private async loop(prefix: string): Promise<void> {
    for (let n = 0; this.running; n++) {
      const id = `${prefix}-${n}`;
      let maybeLanded = false;
      while (this.running) {
        const sentAt = performance.now();
        try {
          const servedBy = await this.router.transaction(async (m) => {
            await m.query(`INSERT INTO ${this.table} (id, at) VALUES (?, NOW(3))`, [id]);
            return Number((await m.query('SELECT @@server_id AS id'))[0].id);
          });
          this.acks.push({ id, sentAt, ackedAt: performance.now(), servedBy });
          break;
        } catch (err) {
          if (maybeLanded && /Duplicate entry/.test(String(err))) {
            // the attempt whose answer was lost did commit (and semi-sync acknowledged it)
            this.acks.push({ id, sentAt, ackedAt: performance.now(), servedBy: 0 });
            break;
          }
          if (!(err instanceof RetryableWriteError)) {
            this.errors.push(String(err));
            await sleep(50);
            continue;
          }
          this.retried++;
          maybeLanded ||= err.outcome === 'unknown';
          await sleep(20);
        }
      }
      await sleep(this.pauseMs);
    }
  }
}
