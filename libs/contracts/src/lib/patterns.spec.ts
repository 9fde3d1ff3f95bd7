import { PaymentPatterns, RecommendationPatterns } from '../index';

describe('message patterns', () => {
  it('are unique across services', () => {
    const all = [...Object.values(PaymentPatterns), ...Object.values(RecommendationPatterns)];
    expect(new Set(all).size).toBe(all.length);
  });
});
