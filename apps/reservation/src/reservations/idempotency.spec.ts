import type { KnownKey } from './booking.store';
import { IdempotencyKeyInUseError, keyVerdict } from './idempotency';

const known = (o: Partial<KnownKey> = {}): KnownKey => ({
  requestHash: 'h',
  reservationId: 'r',
  status: 'PENDING_PAYMENT',
  handedOver: false,
  ageMs: 100,
  ...o,
});

describe('keyVerdict: what a request does with a key its user already used', () => {
  it('refuses another request under the key, whatever state its booking is in', () => {
    for (const status of ['PENDING_PAYMENT', 'CONFIRMED', 'FAILED', 'CANCELLED'] as const) {
      expect(keyVerdict(known({ status, requestHash: 'other' }), 'h', 2_000)).toEqual({
        kind: 'different_request',
      });
    }
  });

  it('replays a settled booking', () => {
    for (const status of ['CONFIRMED', 'FAILED', 'CANCELLED'] as const) {
      expect(keyVerdict(known({ status, ageMs: 10 }), 'h', 2_000)).toEqual({ kind: 'replay' });
    }
  });

  it('answers a hold still in its request’s hands as in flight, with the time until it may be taken over', () => {
    expect(keyVerdict(known({ ageMs: 100 }), 'h', 2_000)).toEqual({
      kind: 'in_flight',
      retryAfterS: 2,
    });
    expect(keyVerdict(known({ ageMs: 1_500 }), 'h', 2_000)).toEqual({
      kind: 'in_flight',
      retryAfterS: 1,
    });
    // never less than a second
    expect(keyVerdict(known({ ageMs: 1_999 }), 'h', 2_000)).toEqual({
      kind: 'in_flight',
      retryAfterS: 1,
    });
  });

  it('replays a pending hold that was handed over (its request answered 202, or the reconciler has it)', () => {
    expect(keyVerdict(known({ handedOver: true, ageMs: 10 }), 'h', 2_000)).toEqual({
      kind: 'replay',
    });
  });

  it('takes over a hold older than the reconciler’s minimum age: a crashed request does not block its key', () => {
    expect(keyVerdict(known({ ageMs: 2_000 }), 'h', 2_000)).toEqual({ kind: 'take_over' });
    expect(keyVerdict(known({ ageMs: 3_600_000 }), 'h', 2_000)).toEqual({ kind: 'take_over' });
  });

  it('answers a key whose hold is gone (undone meanwhile) as in flight: retry with the same key', () => {
    expect(keyVerdict(known({ status: undefined }), 'h', 2_000)).toEqual({
      kind: 'in_flight',
      retryAfterS: 1,
    });
  });
});

describe('IdempotencyKeyInUseError', () => {
  it('is a 409 with the code, the message and the seconds to wait', () => {
    const err = new IdempotencyKeyInUseError(3);
    expect(err.getStatus()).toBe(409);
    expect(err.retryAfterS).toBe(3);
    expect(err.getResponse()).toMatchObject({
      error: 'idempotency_key_in_use',
      message: expect.stringMatching(/retry with the same key/),
      details: { retryAfterSeconds: 3 },
    });
  });
});
