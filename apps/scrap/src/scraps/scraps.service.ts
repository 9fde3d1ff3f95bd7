import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  Inject,
  Injectable,
  NotFoundException,
  Optional,
  UnprocessableEntityException,
} from '@nestjs/common';
import { ReplicaRouter } from '@stayline/database';
import { counter } from '@stayline/observability';
import { FaultInjector } from '@stayline/service-runtime';
import { parseOpenGraph } from '../scraping/open-graph.parser';
import { FetchFailedError, FetchLimits, safeFetch } from '../scraping/safe-fetch';
import { ForbiddenTargetError } from '../scraping/fetch-errors';
import { SsrfGuard } from '../scraping/ssrf-guard';
import { PageCardCache } from './page-card.cache';
import { Scrap, scrapView } from './scrap.entity';

export const SCRAP_FAULTS = Symbol('SCRAP_FAULTS');
export const FETCH_LIMITS = Symbol('FETCH_LIMITS');

const fetches = counter('stayline_scrap_fetches_total', 'Page fetches by outcome', ['outcome']);

const clip = (s: string | undefined, n: number) => (s === undefined ? null : s.slice(0, n));

@Injectable()
export class ScrapsService {
  constructor(
    private readonly db: ReplicaRouter,
    private readonly guard: SsrfGuard,
    private readonly cache: PageCardCache,
    @Inject(FETCH_LIMITS) private readonly limits: FetchLimits,
    @Optional() @Inject(SCRAP_FAULTS) private readonly faults?: FaultInjector,
  ) {}

  /** Fetches the page (or takes its card from the cache) and saves it for the user. */
  async create(userId: string, url: string) {
    await this.faults?.apply('create');
    // the guard first: a card cached for an allowed target must not leak to a caller whose target is refused
    await this.guard.check(url).catch((err: unknown) => this.refuse(err));
    let card = await this.cache.get(url);
    if (card) fetches.inc({ outcome: 'cached' });
    else {
      card = await this.fetchCard(url);
      await this.cache.set(url, card);
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

  private async fetchCard(url: string) {
    try {
      const page = await safeFetch(url, this.guard, this.limits);
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

  /** Maps a guard or fetch failure to its 4xx answer; anything else is rethrown. */
  private refuse(err: unknown): never {
    if (err instanceof ForbiddenTargetError) {
      fetches.inc({ outcome: 'refused' });
      throw new BadRequestException({ error: 'forbidden_target', message: err.message });
    }
    if (err instanceof FetchFailedError) {
      fetches.inc({ outcome: 'failed' });
      throw new UnprocessableEntityException({
        error: 'unfetchable_url',
        message: `could not read the page: ${err.message}`,
      });
    }
    throw err;
  }

  async list(userId: string) {
    const rows = await this.db.read((m) =>
      m.find(Scrap, { where: { userId }, order: { createdAt: 'DESC' }, take: 200 }),
    );
    return { items: rows.map(scrapView) };
  }

  async remove(id: string): Promise<void> {
    const deleted = await this.db.write((m) => m.delete(Scrap, { id }));
    if (!deleted.affected) throw new NotFoundException(`no scrap ${id}`);
  }
}
