import { Inject, Injectable } from '@nestjs/common';
import { ReplicaRouter } from '@stayline/database';
import { RANKING_PORT, RankingPort } from '../clients/ports';
import { Listing, listingView } from './listing.entity';

export interface ListingPage {
  items: ReturnType<typeof listingView>[];
  ranking: 'personalized' | 'fallback';
  reason?: string;
}

/**
 * The listing page, an essential API: it always answers. It is ranked for the
 * caller by recommendation (non-essential); when recommendation is down, slow,
 * switched off or its breaker is open, the default order (rating, then
 * popularity) is served with `ranking: "fallback"` and the reason.
 */
@Injectable()
export class ListingsService {
  constructor(
    private readonly db: ReplicaRouter,
    @Inject(RANKING_PORT) private readonly ranking: RankingPort,
  ) {}

  async list(q: { city?: string; userId: string; limit?: number }): Promise<ListingPage> {
    const limit = q.limit ?? 20;
    // the candidates in the default order: rating, then popularity
    const rows = await this.db.read((m) =>
      m.find(Listing, {
        where: q.city ? { city: q.city } : {},
        order: { rating: 'DESC', bookings: 'DESC', id: 'ASC' },
        take: 100,
      }),
    );
    const ranked = await this.ranking.rank(
      q.userId,
      rows.map((l) => ({ id: l.id, city: l.city, pricePerNight: l.pricePerNightCents / 100 })),
    );
    if (ranked.ranking === 'fallback') {
      return {
        items: rows.slice(0, limit).map(listingView),
        ranking: 'fallback',
        reason: ranked.reason,
      };
    }
    const byId = new Map(rows.map((l) => [l.id, l]));
    const ordered = ranked.order
      .map((id) => byId.get(id))
      .filter((l): l is Listing => l !== undefined);
    return { items: ordered.slice(0, limit).map(listingView), ranking: 'personalized' };
  }
}
