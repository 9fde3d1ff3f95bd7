import { ConflictException } from '@nestjs/common';
import type { KnownKey } from './booking.store';

/**
 * What a request does with an Idempotency-Key its user already used
 * (IETF draft "The Idempotency-Key HTTP Header Field"):
 * - `different_request`: the key made another booking: 422, nothing booked;
 * - `replay`: the first request answered, or its hold is the reconciler's now:
 *   the same reservation, as it is (201 settled, 202 still pending);
 * - `in_flight`: the first request is still holding and charging: 409 at once,
 *   `Retry-After` until it must have answered or been handed over;
 * - `take_over`: a pending hold still in its request's hands but older than
 *   the reconciler's minimum age (the request died, a process killed mid-booking,
 *   or is that slow): the replay hands it over to the reconciler, after which its
 *   request can no longer undo it, and answers it as a replay (202).
 */
export type KeyVerdict =
  | { kind: 'different_request' }
  | { kind: 'replay' }
  | { kind: 'take_over' }
  | { kind: 'in_flight'; retryAfterS: number };

export function keyVerdict(
  known: KnownKey,
  requestHash: string,
  reconcileAfterMs: number,
): KeyVerdict {
  if (known.requestHash !== requestHash) return { kind: 'different_request' };
  // the hold was undone between reading the key and its reservation: nothing to replay yet
  if (!known.status) return { kind: 'in_flight', retryAfterS: 1 };
  if (known.status !== 'PENDING_PAYMENT' || known.handedOver) return { kind: 'replay' };
  const left = reconcileAfterMs - known.ageMs;
  if (left <= 0) return { kind: 'take_over' };
  return { kind: 'in_flight', retryAfterS: Math.max(1, Math.ceil(left / 1000)) };
}

/** 409: the key's first request has not answered yet; retry with the same key after `retryAfterS`. */
export class IdempotencyKeyInUseError extends ConflictException {
  constructor(readonly retryAfterS: number) {
    super({
      error: 'idempotency_key_in_use',
      message:
        'another request with this Idempotency-Key is in progress or did not complete; retry with the same key',
      details: { retryAfterSeconds: retryAfterS },
    });
  }
}
