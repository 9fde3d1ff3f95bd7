/** One listing offered for ranking: the attributes the model reads. */
export interface RankCandidate {
  id: string;
  city: string;
  pricePerNight: number;
}

/** recommendation.rank: orders the candidates for one user. */
export interface RankRequest {
  userId: string;
  candidates: RankCandidate[];
}

export interface RankResponse {
  userId: string;
  ranked: Array<{ id: string; score: number }>;
}

/**
 * What recommendation learns from: one event per confirmed or cancelled
 * reservation, delivered at least once (a Redis Stream with a consumer group)
 * and applied idempotently by `eventId`.
 */
export interface ReservationEvent {
  eventId: string;
  type: 'reservation.confirmed' | 'reservation.cancelled';
  reservationId: string;
  userId: string;
  listingId: string;
  city: string;
  pricePerNight: number;
  at: string;
}

/** The stream that carries reservation events, and the consumer group recommendation reads it with. */
export const RESERVATION_EVENTS_STREAM = 'stayline:events:reservations';
export const RECOMMENDATION_CONSUMER_GROUP = 'recommendation';
