import { Inject, Injectable, Optional } from '@nestjs/common';
import type { RankResponse } from '@stayline/contracts';
import { ReplicaRouter } from '@stayline/database';
import { FaultInjector } from '@stayline/service-runtime';
import { AffinityStore } from '../learning/affinity.store';
import { RankDto } from './dto/rank.dto';
import { rank } from './ranking.model';

export const RECOMMENDATION_FAULTS = Symbol('RECOMMENDATION_FAULTS');

@Injectable()
export class RankingService {
  constructor(
    private readonly db: ReplicaRouter,
    @Optional() @Inject(RECOMMENDATION_FAULTS) private readonly faults?: FaultInjector,
  ) {}

  async rank(req: RankDto): Promise<RankResponse> {
    await this.faults?.apply('rank');
    const ids = req.candidates.map((c) => c.id);
    const [profile, popularity] = await this.db.read(async (m) =>
      Promise.all([AffinityStore.profile(m, req.userId), AffinityStore.popularity(m, ids)]),
    );
    return { userId: req.userId, ranked: rank(req.candidates, profile, popularity) };
  }

  /** What the model knows of a user, and the most booked listings overall. */
  async overview(userId: string, limit = 10) {
    await this.faults?.apply('overview');
    return this.db.read(async (m) => {
      const [profile, popular] = await Promise.all([
        AffinityStore.profile(m, userId),
        AffinityStore.popularity(m),
      ]);
      return {
        userId,
        profile,
        popular: Object.entries(popular)
          .slice(0, limit)
          .map(([listingId, bookings]) => ({ listingId, bookings })),
      };
    });
  }
}
