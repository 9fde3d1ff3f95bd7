import { MessageAuth, MESSAGE_MAX_AGE_MS } from './message-auth';

const SECRET = 'a-secret-of-at-least-thirty-two-bytes-0001';

describe('MessageAuth: service identity on TCP messages', () => {
  const charge = { reservationId: 'r-1', userId: 'alice', amountCents: 100, currency: 'USD' };

  it('accepts a message signed with the same key, and names its caller', () => {
    const reservation = MessageAuth.fromSecret('reservation', SECRET);
    const payment = MessageAuth.fromSecret('payment', SECRET);
    const sig = reservation.sign('payment.charge', charge);
    expect(payment.verify('payment.charge', charge, sig)).toEqual({ caller: 'reservation' });
    expect(payment.verify('payment.charge', charge, sig, ['reservation'])).toEqual({
      caller: 'reservation',
    });
    // the secret is not the key: its HMAC over the same fields differs
    expect(sig.sig).not.toBe(MessageAuth.fromSecret('reservation', `${SECRET}x`).sign('p', {}).sig);
  });

  it('refuses what is unsigned, malformed, forged, moved to another pattern, changed or stale', () => {
    let now = 1_000_000;
    const reservation = MessageAuth.fromSecret('reservation', SECRET, () => now);
    const payment = MessageAuth.fromSecret('payment', SECRET, () => now);
    const sig = reservation.sign('payment.charge', charge);
    const refused = (r: unknown) => (r as { refused?: string }).refused;
    expect(refused(payment.verify('payment.charge', charge, undefined))).toBe('unsigned');
    expect(refused(payment.verify('payment.charge', charge, { svc: 'x' }))).toBe(
      'malformed_signature',
    );
    expect(refused(payment.verify('payment.charge', charge, 'garbage'))).toBe(
      'malformed_signature',
    );
    const other = MessageAuth.fromSecret('reservation', 'another-secret-of-thirty-two-bytes-00002');
    expect(
      refused(payment.verify('payment.charge', charge, other.sign('payment.charge', charge))),
    ).toBe('bad_signature');
    expect(refused(payment.verify('payment.refund', charge, sig))).toBe('bad_signature');
    expect(refused(payment.verify('payment.charge', { ...charge, amountCents: 1 }, sig))).toBe(
      'bad_signature',
    );
    // claiming another caller breaks the signature too
    expect(refused(payment.verify('payment.charge', charge, { ...sig, svc: 'scrap' }))).toBe(
      'bad_signature',
    );
    now += MESSAGE_MAX_AGE_MS + 1;
    expect(refused(payment.verify('payment.charge', charge, sig))).toBe('stale');
  });

  it('refuses a caller the handler does not name', () => {
    const scrap = MessageAuth.fromSecret('scrap', SECRET);
    const payment = MessageAuth.fromSecret('payment', SECRET);
    const sig = scrap.sign('payment.refund', { reservationId: 'r-1' });
    expect(
      payment.verify('payment.refund', { reservationId: 'r-1' }, sig, ['reservation']),
    ).toEqual({ refused: 'caller_not_allowed' });
  });

  it('gives two identical messages different signatures (a nonce each)', () => {
    const a = MessageAuth.fromSecret('reservation', SECRET);
    expect(a.sign('p', charge).sig).not.toBe(a.sign('p', charge).sig);
  });
});
