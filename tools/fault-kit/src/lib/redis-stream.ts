/**
 * A steady write stream to Redis through Sentinel (ioredis, as every client of
 * the project connects), recording writes the primary accepted and those a
 * replica acknowledged (`WAIT 1`): only the latter are promised to survive a
 * Sentinel failover.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis } from '@stayline/coordination';
import { redisCommand, Stack, waitFor } from '@stayline/stack-kit';
import type Redis from 'ioredis';

/** One write: key, when sent, when the primary accepted it, whether a replica acknowledged it. */
export interface RedisWrite {
  key: string;
  sentAt: number;
  acceptedAt: number;
  durable: boolean;
}

export class RedisWriteStream {
  readonly writes: RedisWrite[] = [];
  errors = 0;
  private running = true;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.loop = this.run();
  }

  static start(stack: Stack, prefix = `rw${Date.now().toString(36)}`): RedisWriteStream {
    // its keys are its own (`rw...:<n>`), outside every role's: the operator's login
    return new RedisWriteStream(
      connectRedis(stack.redisTarget('admin'), { commandTimeoutMs: 500 }),
      prefix,
    );
  }

  /** The first write sent after `t` that the (new) primary accepted. */
  async acceptedAfter(t: number, timeoutMs = 30_000): Promise<RedisWrite> {
    const find = () => this.writes.find((w) => w.sentAt > t);
    await waitFor('a Redis write accepted', async () => Boolean(find()), {
      timeoutMs,
      intervalMs: 5,
    });
    return find() as RedisWrite;
  }

  /** Acknowledged (`WAIT 1`) keys missing on a node. */
  async lostOn(node: { host: string; port: number }): Promise<string[]> {
    const durable = this.writes.filter((w) => w.durable).map((w) => w.key);
    const missing: string[] = [];
    for (let i = 0; i < durable.length; i += 500) {
      const chunk = durable.slice(i, i + 500);
      const values = await redisCommand<Array<string | null>>(node, 'MGET', ...chunk);
      chunk.forEach((k, j) => values[j] === null && missing.push(k));
    }
    return missing;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.redis.disconnect();
  }

  private async run(): Promise<void> {
    for (let n = 0; this.running; n++) {
      const key = `${this.prefix}:${n}`;
      const sentAt = performance.now();
      try {
        await this.redis.set(key, String(n));
        const acceptedAt = performance.now();
        const durable = (await this.redis.wait(1, 200)) >= 1;
        this.writes.push({ key, sentAt, acceptedAt, durable });
      } catch {
        this.errors++;
        await sleep(10);
      }
      await sleep(2);
    }
  }
}
