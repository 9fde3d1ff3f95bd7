/** TCP message patterns, one constant per operation, imported by server and client alike. */
export const PaymentPatterns = {
  charge: 'payment.charge',
  refund: 'payment.refund',
  get: 'payment.get',
} as const;

export const RecommendationPatterns = {
  rank: 'recommendation.rank',
} as const;
