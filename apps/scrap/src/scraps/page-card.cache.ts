import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { OpenGraph } from '../scraping/open-graph.parser';

/**
 * OpenGraph cards cached by URL in Redis: the same page saved by many users is
 * fetched once per TTL. A cache failure never fails a scrap: it only costs a fetch.
 */
export class PageCardCache {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {}

  private key(url: string): string {
    return `stayline:scrap:og:${createHash('sha256').update(url).digest('hex')}`;
  }

  async get(url: string): Promise<OpenGraph | undefined> {
    try {
      const raw = await this.redis.get(this.key(url));
      return raw ? (JSON.parse(raw) as OpenGraph) : undefined;
    } catch {
      return undefined;
    }
  }

  async set(url: string, card: OpenGraph): Promise<void> {
    try {
      await this.redis.set(this.key(url), JSON.stringify(card), 'EX', this.ttlSeconds);
    } catch {
      // a missed cache write only means the next save of this page fetches it again
    }
  }
}
