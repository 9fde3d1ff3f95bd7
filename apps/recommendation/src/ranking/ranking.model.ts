/**
 * The recommendation model: simple and honest. A listing's score for a user is
 * how much that user has booked in its city and its price band (their own
 * history), plus how popular it is with everyone. New users get popularity only.
 */
export type PriceBand = 'budget' | 'mid' | 'premium' | 'luxury';

export function priceBand(pricePerNight: number): PriceBand {
  if (pricePerNight < 100) return 'budget';
  if (pricePerNight < 200) return 'mid';
  if (pricePerNight < 400) return 'premium';
  return 'luxury';
}

export interface Candidate {
  id: string;
  city: string;
  pricePerNight: number;
}

/** What the model knows of one user: bookings counted by city and by price band. */
export interface UserProfile {
  cities: Record<string, number>;
  bands: Partial<Record<PriceBand, number>>;
}

export interface RankedListing {
  id: string;
  score: number;
}

export const WEIGHTS = { city: 0.5, band: 0.3, popularity: 0.2 } as const;

function share(counts: Record<string, number | undefined>, key: string): number {
  const total = Object.values(counts).reduce<number>((a, b) => a + (b ?? 0), 0);
  return total === 0 ? 0 : (counts[key] ?? 0) / total;
}

/**
 * Orders candidates by score, highest first; ties keep the caller's order (the
 * default order), so the ranking is deterministic.
 */
export function rank(
  candidates: Candidate[],
  profile: UserProfile,
  popularity: Record<string, number>,
): RankedListing[] {
  const maxPop = Math.max(0, ...candidates.map((c) => popularity[c.id] ?? 0));
  return candidates
    .map((c, index) => {
      const pop = maxPop === 0 ? 0 : Math.log1p(popularity[c.id] ?? 0) / Math.log1p(maxPop);
      const score =
        WEIGHTS.city * share(profile.cities, c.city) +
        WEIGHTS.band * share(profile.bands, priceBand(c.pricePerNight)) +
        WEIGHTS.popularity * pop;
      return { id: c.id, score: Math.round(score * 10_000) / 10_000, index };
    })
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .map(({ id, score }) => ({ id, score }));
}
