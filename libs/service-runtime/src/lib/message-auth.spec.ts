import { createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import {
  devServiceSeed,
  generateServiceKeys,
  MessageAuth,
  MESSAGE_MAX_AGE_MS,
  privateKeyFromSeed,
  publicKeyFromRaw,
  rawPublicKey,
  seedOf,
} from './message-auth';

/** A service's own key pair, as an operator would generate it. */
const keyPair = () => generateKeyPairSync('ed25519');

describe('MessageAuth: service identity on TCP messages, one key pair per service', () => {
  const charge = { reservationId: 'r-1', userId: 'alice', amountCents: 100, currency: 'USD' };
  const reservationKeys = keyPair();
  const scrapKeys = keyPair();
  const paymentKeys = keyPair();
  /** payment's view: its own private key, and the public keys of reservation and scrap. */
  const payment = (now?: () => number) =>
    MessageAuth.of(
      'payment',
      paymentKeys.privateKey,
      { reservation: reservationKeys.publicKey, scrap: scrapKeys.publicKey },
      now,
    );
  const refused = (r: unknown) => (r as { refused?: string }).refused;

  it("accepts a message signed with the caller's own key, verified with its public key, and names the caller", () => {
    const reservation = MessageAuth.of('reservation', reservationKeys.privateKey, {});
    const sig = reservation.sign('payment.charge', charge);
    expect(payment().verify('payment.charge', charge, sig)).toEqual({ caller: 'reservation' });
    expect(payment().verify('payment.charge', charge, sig, ['reservation'])).toEqual({
      caller: 'reservation',
    });
    // an Ed25519 signature: 64 bytes
    expect(Buffer.from(sig.sig, 'base64url')).toHaveLength(64);
  });

  it("refuses, as bad_signature, a message signed with scrap's key that claims to come from reservation", () => {
    const scrapAsReservation = MessageAuth.of('reservation', scrapKeys.privateKey, {});
    const sig = scrapAsReservation.sign('payment.refund', { reservationId: 'r-1' });
    expect(sig.svc).toBe('reservation');
    expect(refused(payment().verify('payment.refund', { reservationId: 'r-1' }, sig))).toBe(
      'bad_signature',
    );
    // and a real scrap signature relabelled as reservation's
    const real = MessageAuth.of('scrap', scrapKeys.privateKey, {}).sign('payment.refund', {
      reservationId: 'r-1',
    });
    expect(
      refused(
        payment().verify(
          'payment.refund',
          { reservationId: 'r-1' },
          { ...real, svc: 'reservation' },
        ),
      ),
    ).toBe('bad_signature');
  });

  it("cannot sign as a caller whose public key it holds: payment's own key signing as reservation is refused", () => {
    // payment holds reservation's public key only; what it can sign with is its own key
    const paymentAsReservation = MessageAuth.of('reservation', paymentKeys.privateKey, {
      reservation: reservationKeys.publicKey,
    });
    const sig = paymentAsReservation.sign('payment.charge', charge);
    const recommendation = MessageAuth.of('recommendation', keyPair().privateKey, {
      reservation: reservationKeys.publicKey,
    });
    expect(refused(recommendation.verify('payment.charge', charge, sig))).toBe('bad_signature');
  });

  it('refuses a message from a service whose public key the verifier does not hold, whatever key signed it', () => {
    const reservation = MessageAuth.of('reservation', reservationKeys.privateKey, {});
    const sig = reservation.sign('recommendation.rank', { userId: 'alice' });
    const recommendation = MessageAuth.of('recommendation', keyPair().privateKey, {
      scrap: scrapKeys.publicKey,
    });
    expect(recommendation.verify('recommendation.rank', { userId: 'alice' }, sig)).toEqual({
      refused: 'unknown_caller',
    });
    expect(recommendation.callers).toEqual(['scrap']);
  });

  it('refuses what is unsigned, malformed, moved to another pattern, changed or stale', () => {
    let now = 1_000_000;
    const reservation = MessageAuth.of('reservation', reservationKeys.privateKey, {}, () => now);
    const verifier = payment(() => now);
    const sig = reservation.sign('payment.charge', charge);
    expect(refused(verifier.verify('payment.charge', charge, undefined))).toBe('unsigned');
    expect(refused(verifier.verify('payment.charge', charge, { svc: 'x' }))).toBe(
      'malformed_signature',
    );
    expect(refused(verifier.verify('payment.charge', charge, 'garbage'))).toBe(
      'malformed_signature',
    );
    expect(refused(verifier.verify('payment.charge', charge, { ...sig, sig: 'short' }))).toBe(
      'bad_signature',
    );
    expect(refused(verifier.verify('payment.refund', charge, sig))).toBe('bad_signature');
    expect(refused(verifier.verify('payment.charge', { ...charge, amountCents: 1 }, sig))).toBe(
      'bad_signature',
    );
    expect(refused(verifier.verify('payment.charge', charge, { ...sig, iat: sig.iat + 1 }))).toBe(
      'bad_signature',
    );
    expect(refused(verifier.verify('payment.charge', charge, { ...sig, nonce: 'another' }))).toBe(
      'bad_signature',
    );
    now += MESSAGE_MAX_AGE_MS;
    expect(verifier.verify('payment.charge', charge, sig)).toEqual({ caller: 'reservation' });
    now += 1;
    expect(refused(verifier.verify('payment.charge', charge, sig))).toBe('stale');
    // signed in the future, past the window, is no better
    now -= 2 * MESSAGE_MAX_AGE_MS + 2;
    expect(refused(verifier.verify('payment.charge', charge, sig))).toBe('stale');
  });

  it('refuses a caller the handler does not name, though its signature is good', () => {
    const scrap = MessageAuth.of('scrap', scrapKeys.privateKey, {});
    const sig = scrap.sign('payment.refund', { reservationId: 'r-1' });
    expect(
      payment().verify('payment.refund', { reservationId: 'r-1' }, sig, ['reservation']),
    ).toEqual({ refused: 'caller_not_allowed' });
  });

  it("accepts either of a caller's two keys while one replaces the other, and only those", () => {
    const next = keyPair();
    const verifier = MessageAuth.of('payment', paymentKeys.privateKey, {
      reservation: [reservationKeys.publicKey, next.publicKey],
    });
    for (const key of [reservationKeys.privateKey, next.privateKey])
      expect(
        verifier.verify('p', {}, MessageAuth.of('reservation', key, {}).sign('p', {})),
      ).toEqual({ caller: 'reservation' });
    const other = MessageAuth.of('reservation', scrapKeys.privateKey, {}).sign('p', {});
    expect(verifier.verify('p', {}, other)).toEqual({ refused: 'bad_signature' });
  });

  it('gives two identical messages different signatures (a nonce each)', () => {
    const a = MessageAuth.of('reservation', reservationKeys.privateKey, {});
    expect(a.sign('p', charge).sig).not.toBe(a.sign('p', charge).sig);
  });

  it('takes only Ed25519 keys: a private one to sign, public ones to verify', () => {
    const { privateKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => MessageAuth.of('reservation', rsa, {})).toThrow(/Ed25519 private key/);
    expect(() =>
      MessageAuth.of('payment', paymentKeys.privateKey, {
        reservation: reservationKeys.privateKey,
      }),
    ).toThrow(/reservation is not an Ed25519 public key/);
  });
});

describe('service keys as the environment spells them', () => {
  it('round-trips a seed and a raw public key through base64url', () => {
    const { seed, publicKey } = generateServiceKeys('reservation');
    expect(seed).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [name, raw] = publicKey.split('=');
    expect(name).toBe('reservation');
    const priv = privateKeyFromSeed(Buffer.from(seed, 'base64url'));
    expect(seedOf(priv).toString('base64url')).toBe(seed);
    expect(rawPublicKey(priv).toString('base64url')).toBe(raw);
    const pub: KeyObject = publicKeyFromRaw(Buffer.from(raw, 'base64url'));
    expect(rawPublicKey(pub).equals(rawPublicKey(createPublicKey(priv)))).toBe(true);
    const signer = MessageAuth.of('reservation', priv, {});
    const verifier = MessageAuth.of('payment', keyPair().privateKey, { reservation: pub });
    expect(verifier.verify('p', {}, signer.sign('p', {}))).toEqual({ caller: 'reservation' });
  });

  it('derives one dev key per service, the same in every process, and none of them alike', () => {
    expect(devServiceSeed('payment').equals(devServiceSeed('payment'))).toBe(true);
    expect(devServiceSeed('payment').equals(devServiceSeed('reservation'))).toBe(false);
    expect(devServiceSeed('payment', 'another-secret').equals(devServiceSeed('payment'))).toBe(
      false,
    );
    // the dev stack's callers and callees agree with no configuration
    const sig = MessageAuth.dev('reservation').sign('payment.charge', {});
    expect(MessageAuth.dev('payment').verify('payment.charge', {}, sig)).toEqual({
      caller: 'reservation',
    });
    const forged = MessageAuth.of(
      'reservation',
      privateKeyFromSeed(devServiceSeed('scrap')),
      {},
    ).sign('payment.charge', {});
    expect(MessageAuth.dev('payment').verify('payment.charge', {}, forged)).toEqual({
      refused: 'bad_signature',
    });
  });

  it('refuses seeds and public keys that are not 32 bytes', () => {
    expect(() => privateKeyFromSeed(Buffer.alloc(31))).toThrow(/32 bytes/);
    expect(() => publicKeyFromRaw(Buffer.alloc(33))).toThrow(/32 bytes/);
  });
});
