import { RankCandidate, RankResponse, RecommendationPatterns } from '@stayline/contracts';
import { DependencyClient } from '@stayline/service-runtime';
import { Ranking, RankingPort } from './ports';

/** The kill switch: recommendation is bypassed on every instance at once when this flag is off. */
export const RECOMMENDATION_ENABLED_FLAG = 'recommendation.enabled';

/**
 * recommendation is non-essential: the listing page must answer without it.
 * A failure, a timeout, an open breaker or the kill switch all give the
 * fallback (the default order), with the reason, and never an error.
 */
export class RankingClient implements RankingPort {
  constructor(
    private readonly client: DependencyClient,
    private readonly flags: { isEnabled(name: string, context?: { key?: string }): boolean },
  ) {}

  async rank(userId: string, candidates: RankCandidate[]): Promise<Ranking> {
    if (!this.flags.isEnabled(RECOMMENDATION_ENABLED_FLAG, { key: userId })) {
      return {
        ranking: 'fallback',
        reason: `recommendation switched off by flag ${RECOMMENDATION_ENABLED_FLAG}`,
      };
    }
    const outcome = await this.client.sendOr<RankResponse, null>(
      RecommendationPatterns.rank,
      { userId, candidates },
      { idempotent: true },
      () => null,
    );
    if (outcome.degraded || outcome.value === null) {
      return { ranking: 'fallback', reason: outcome.degraded ? outcome.reason : 'no ranking' };
    }
    return { ranking: 'personalized', order: outcome.value.ranked.map((r) => r.id) };
  }
}
