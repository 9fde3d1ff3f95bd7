import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, NotFoundException, Optional } from '@nestjs/common';
import { ReplicaRouter } from '@stayline/database';
import { counter } from '@stayline/observability';
import { FaultInjector } from '@stayline/service-runtime';
import { FetchFailedError, ForbiddenTargetError } from '../scraping/fetch-errors';
import { OpenGraph, parseOpenGraph } from '../scraping/open-graph.parser';
import { FetchLimits, safeFetch } from '../scraping/safe-fetch';
import { CheckedTarget, SsrfGuard } from '../scraping/ssrf-guard';
import { FetchCapacityError, FetchSlots } from './fetch-slots';
import { PageCardCache } from './page-card.cache';
import { ScrapRefusal } from './scrap-refusal';
import { Scrap, scrapView } from './scrap.entity';

export const SCRAP_FAULTS = Symbol('SCRAP_FAULTS');
export const FETCH_LIMITS = Symbol('FETCH_LIMITS');

const fetches = counter('stayline_scrap_fetches_total', 'Page fetches by outcome', ['outcome']);

const clip = (s: string | undefined, n: number) => (s === undefined ? null : s.slice(0, n));

@Injectable()
export class ScrapsService {
  private readonly logger = new Logger('ScrapsService');

  constructor(
    private readonly db: ReplicaRouter,
    private readonly guard: SsrfGuard,
    private readonly cache: PageCardCache,
    private readonly slots: FetchSlots,
    @Inject(FETCH_LIMITS) private readonly limits: FetchLimits,
    @Optional() @Inject(SCRAP_FAULTS) private readonly faults?: FaultInjector,
  ) {}

  /**
   * Fetches the page (or takes its card from the cache) and saves it for the user.
   * The guard's check, the name resolution and the fetch all end by one deadline,
   * and hold one of the instance's fetch slots and one of the user's (the
   * token's subject) meanwhile.
   */
  async create(userId: string, url: string) {
    await this.faults?.apply('create');
    const deadline = Date.now() + this.limits.timeoutMs;
    const release = this.takeSlot(userId, deadline);
    let card: OpenGraph;
    try {
      // the guard first: a card cached for an allowed target must not leak to a caller whose target is refused
      const target = await this.guard
        .check(url, deadline)
        .catch((err: unknown) => this.refuse(err));
      const cached = await this.cache.get(url);
      if (cached) {
        fetches.inc({ outcome: 'cached' });
        card = cached;
      } else {
        card = await this.fetchCard(target, deadline);
        await this.cache.set(url, card);
      }
    } finally {
      release();
    }
    const scrap: Scrap = Object.assign(new Scrap(), {
      id: randomUUID(),
      userId,
      url,
      title: clip(card.title, 512),
      description: clip(card.description, 4000),
      image: clip(card.image, 2048),
      ogUrl: clip(card.url, 2048),
      ogType: clip(card.type, 64),
      siteName: clip(card.siteName, 256),
    });
    const saved = await this.db.write(async (m) => {
      await m.insert(Scrap, scrap);
      return m.findOneByOrFail(Scrap, { id: scrap.id });
    });
    return scrapView(saved);
  }

  /** A fetch slot, or 429 (this user's are taken) / 503 (this instance's are) with Retry-After. */
  private takeSlot(userId: string, deadline: number): () => void {
    try {
      return this.slots.acquire(userId, deadline);
    } catch (err) {
      if (!(err instanceof FetchCapacityError)) throw err;
      fetches.inc({ outcome: err.scope === 'user' ? 'user_limited' : 'busy' });
      throw err.scope === 'user'
        ? new ScrapRefusal(
            429,
            'too_many_requests',
            'user_fetch_limit',
            err.message,
            err.retryAfterS,
          )
        : new ScrapRefusal(
            503,
            'service_busy',
            'instance_fetch_limit',
            err.message,
            err.retryAfterS,
          );
    }
  }

  private async fetchCard(target: CheckedTarget, deadline: number): Promise<OpenGraph> {
    try {
      const page = await safeFetch(target, this.guard, this.limits, deadline);
      if (page.status >= 400)
        throw new FetchFailedError('http_error', `the page answered HTTP ${page.status}`);
      if (!/html/i.test(page.contentType))
        throw new FetchFailedError(
          'not_html',
          `not an HTML page (${page.contentType || 'no content type'})`,
        );
      fetches.inc({ outcome: 'fetched' });
      return parseOpenGraph(page.body, page.url);
    } catch (err) {
      return this.refuse(err);
    }
  }

  /**
   * Maps a guard or fetch failure to its 4xx answer (anything else is rethrown).
   * The answer names what happened in general terms; the specifics, which may
   * name an internal address, go to the log only.
   */
  private refuse(err: unknown): never {
    if (err instanceof ForbiddenTargetError) {
      fetches.inc({ outcome: 'refused' });
      this.logger.warn(`refused (${err.reason}): ${err.detail}`);
      throw new ScrapRefusal(400, 'forbidden_target', err.reason, err.message);
    }
    if (err instanceof FetchFailedError) {
      fetches.inc({ outcome: err.reason === 'blocked_address' ? 'refused' : 'failed' });
      if (err.reason === 'blocked_address')
        this.logger.warn(`refused (${err.reason}): ${err.detail}`);
      else this.logger.log(`unfetchable (${err.reason}): ${err.detail}`);
      throw new ScrapRefusal(
        422,
        'unfetchable_url',
        err.reason,
        `could not read the page: ${err.message}`,
      );
    }
    throw err;
  }

  async list(userId: string) {
    const rows = await this.db.read((m) =>
      m.find(Scrap, { where: { userId }, order: { createdAt: 'DESC' }, take: 200 }),
    );
    return { items: rows.map(scrapView) };
  }

  /** Deletes the user's scrap; another user's is not found, like a missing one. */
  async remove(id: string, userId: string): Promise<void> {
    const deleted = await this.db.write((m) => m.delete(Scrap, { id, userId }));
    if (!deleted.affected) throw new NotFoundException(`no scrap ${id}`);
  }
}
