import type { ChargeRequest, PaymentView, RankCandidate } from '@stayline/contracts';

/**
 * What reservation needs from its dependencies. The implementations call them
 * over TCP through discovery, a client-side balancer and a circuit breaker;
 * tests may give fakes in unit specs only.
 */
export interface PaymentPort {
  /** Essential: throws a ResilienceError when payment cannot be reached, an RPC error body for a 4xx. */
  charge(req: ChargeRequest): Promise<PaymentView>;
  refund(reservationId: string): Promise<PaymentView>;
}

export type Ranking =
  { ranking: 'personalized'; order: string[] } | { ranking: 'fallback'; reason: string };

export interface RankingPort {
  /** Non-essential: never throws; a failure, a slow answer or the kill switch give `fallback` with the reason. */
  rank(userId: string, candidates: RankCandidate[]): Promise<Ranking>;
}

export const PAYMENT_PORT = Symbol('PAYMENT_PORT');
export const RANKING_PORT = Symbol('RANKING_PORT');
