import { createHash, randomUUID } from 'node:crypto';
import {
  HttpException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { isClientRpcError, isRpcErrorBody } from '@stayline/contracts';
import { ReplicaRouter } from '@stayline/database';
import { counter } from '@stayline/observability';
import {
  BreakerOpenError,
  BulkheadRejectedError,
  NoEndpointError,
  ResilienceError,
} from '@stayline/resilience';
import { PAYMENT_PORT, PaymentPort } from '../clients/ports';
import { Listing } from '../listings/listing.entity';
import { BOOKING_RULES, BookingRules } from './booking-rules';
import {
  BookingStore,
  BookingUserMissingError,
  EventListing,
  Held,
  Hold,
  IdempotencyKeyTakenError,
} from './booking.store';
import { CreateReservationDto } from './dto/reservation.dto';
import { IdempotencyKeyInUseError, keyVerdict } from './idempotency';
import { Reservation, reservationView } from './reservation.entity';
import { stayNights } from './stay-dates';

const bookings = counter('stayline_reservation_bookings_total', 'Booking attempts by outcome', [
  'outcome',
]);
/** Every outcome `bookings` counts, each series there at 0 from the start: Prometheus'
 * rate() cannot see the first step of a series born with it (the booking SLO's rules). */
const BOOKING_OUTCOMES = [
  'confirmed',
  'refused',
  'payment_unavailable',
  'pending',
  'payment_refused',
  'key_in_use',
  'replayed',
] as const;
for (const outcome of BOOKING_OUTCOMES) bookings.inc({ outcome }, 0);
const cancels = counter(
  'stayline_reservation_cancels_total',
  'Cancels by outcome: cancelled, or pending (the refund left to the reconciler)',
  ['outcome'],
);

/** How many users the booking remembers having a `booking_users` row; past it, it starts over. */
const KNOWN_USERS_MAX = 100_000;

export type BookingResult = {
  status: 201 | 202;
  reservation: ReturnType<typeof reservationView>;
  replayed: boolean;
};

/** The reservation use cases: book (hold, charge, confirm), look up, cancel. */
@Injectable()
export class ReservationsService {
  private readonly logger = new Logger(ReservationsService.name);
  /**
   * Users whose `booking_users` row this instance made or found: rows are never
   * deleted, so each user's INSERT IGNORE runs once per instance, not once per booking.
   */
  private readonly knownUsers = new Set<string>();

  constructor(
    private readonly db: ReplicaRouter,
    @Inject(PAYMENT_PORT) private readonly payment: PaymentPort,
    @Inject(BOOKING_RULES) private readonly rules: BookingRules,
  ) {}

  /**
   * Books a stay. The nights are held in one transaction (double booking is
   * refused by the database), then payment is charged with the reservation id
   * as its idempotency key:
   * - charged: 201, CONFIRMED;
   * - nothing sent (payment's breaker open, no instance registered, bulkhead full): the hold is undone, 503 with Retry-After;
   * - outcome unknown (a timeout): 202, PENDING_PAYMENT, settled by the reconciler;
   * - refused by payment (a 4xx): FAILED, nights released, 422.
   * A user holds at most `maxActivePerUser` active bookings: one more is a 409
   * `booking_limit_reached`, checked in the hold's transaction.
   * Idempotency-Keys are the user's own: the same key from another user is
   * another booking. The same key with the same request returns the same
   * reservation once its first request answered ({@link replay}); while that
   * request is still under way, 409 `idempotency_key_in_use` at once.
   */
  async book(
    dto: CreateReservationDto,
    userId: string,
    idempotencyKey: string,
  ): Promise<BookingResult> {
    const nights = stayNights(dto.checkIn, dto.checkOut, this.rules);
    const requestHash = createHash('sha256')
      .update(JSON.stringify([dto.listingId, userId, dto.checkIn, dto.checkOut, dto.guests]))
      .digest('hex');
    const replay = await this.replay(userId, idempotencyKey, requestHash);
    if (replay) return replay;

    const listing = await this.db.read((m) => m.findOneBy(Listing, { id: dto.listingId }));
    if (!listing) throw new NotFoundException(`no listing ${dto.listingId}`);
    if (dto.guests > listing.capacity) {
      throw new UnprocessableEntityException({
        error: 'over_capacity',
        message: `${listing.id} sleeps at most ${listing.capacity} guests (asked for ${dto.guests})`,
      });
    }
    const hold: Hold = {
      id: randomUUID(),
      listing,
      userId,
      checkIn: dto.checkIn,
      checkOut: dto.checkOut,
      nights,
      guests: dto.guests,
      idempotencyKey,
      requestHash,
      keyRetentionS: this.rules.keyRetentionS,
      maxActive: this.rules.maxActivePerUser,
      today: new Date().toISOString().slice(0, 10),
    };
    let held: Held;
    try {
      held = await this.hold(hold);
    } catch (err) {
      // the same key raced in from another request of the user, whose hold committed first
      if (err instanceof IdempotencyKeyTakenError) {
        const again = await this.replay(userId, idempotencyKey, requestHash);
        if (again) return again;
        throw new IdempotencyKeyInUseError(1); // that hold was undone meanwhile (payment unreachable)
      }
      if (err instanceof HttpException) bookings.inc({ outcome: 'refused' });
      throw err;
    }
    return this.charge(held, listing, idempotencyKey);
  }

  /**
   * The hold's transaction (READ COMMITTED, see {@link BookingStore.checkCap}),
   * after the user's `booking_users` row is made, in a statement of its own:
   * once per user and instance, and again if the row is missing all the same.
   */
  private async hold(hold: Hold): Promise<Held> {
    for (let attempt = 0; ; attempt++) {
      if (!this.knownUsers.has(hold.userId)) {
        await this.db.write((m) => BookingStore.ensureBookingUser(m, hold.userId));
        if (this.knownUsers.size >= KNOWN_USERS_MAX) this.knownUsers.clear();
        this.knownUsers.add(hold.userId);
      }
      try {
        return await this.db.transaction((m) => BookingStore.hold(m, hold), {
          isolationLevel: 'READ COMMITTED',
        });
      } catch (err) {
        if (!(err instanceof BookingUserMissingError) || attempt > 0) throw err;
        this.knownUsers.delete(hold.userId);
      }
    }
  }

  private async charge(
    held: Held,
    listing: EventListing,
    idempotencyKey: string,
  ): Promise<BookingResult> {
    try {
      const paid = await this.payment.charge({
        reservationId: held.id,
        userId: held.userId,
        amountCents: held.amountCents,
        currency: held.currency,
      });
      const confirmed = await this.db.transaction((m) =>
        BookingStore.confirm(m, held.id, paid.id, { held, listing }),
      );
      bookings.inc({ outcome: 'confirmed' });
      return {
        status: 201,
        // as the confirming transaction read it; read again only when the reconciler settled it first
        reservation: confirmed
          ? reservationView(confirmed)
          : await this.view(held.id, held.userId, true),
        replayed: false,
      };
    } catch (err) {
      if (
        err instanceof BreakerOpenError ||
        err instanceof BulkheadRejectedError ||
        err instanceof NoEndpointError
      ) {
        // nothing reached payment: leave no trace, so the client can retry with the same key
        const undone = await this.db.transaction((m) =>
          BookingStore.abandon(m, held.id, held.userId, idempotencyKey),
        );
        if (undone) {
          bookings.inc({ outcome: 'payment_unavailable' });
          throw err;
        }
        // the reconciler took the hold over meanwhile (and may have charged it): its outcome stands
        const reservation = await this.view(held.id, held.userId, true);
        bookings.inc({ outcome: 'pending' });
        return {
          status: reservation.status === 'PENDING_PAYMENT' ? 202 : 201,
          reservation,
          replayed: false,
        };
      }
      if (isClientRpcError(err)) {
        const reason = isRpcErrorBody(err) ? err.message : 'payment refused the charge';
        await this.db.transaction((m) =>
          BookingStore.release(m, held.id, 'FAILED', reason.slice(0, 255)),
        );
        bookings.inc({ outcome: 'payment_refused' });
        throw new UnprocessableEntityException({ error: 'payment_refused', message: reason });
      }
      // the charge may or may not have happened: keep the hold, the reconciler settles it
      this.logger.warn(
        `charge for ${held.id} has an unknown outcome (${err instanceof ResilienceError ? err.message : String(err)}); pending`,
      );
      // answered: a retry with the key now replays this 202 instead of waiting for the request
      await this.db
        .transaction((m) => BookingStore.claimForReconciliation(m, held.id))
        .catch((e: unknown) =>
          this.logger.warn(`could not hand ${held.id} over to the reconciler: ${String(e)}`),
        );
      bookings.inc({ outcome: 'pending' });
      return {
        status: 202,
        reservation: await this.view(held.id, held.userId, true),
        replayed: false,
      };
    }
  }

  /**
   * The answer to a key the user already used within the retention (a retry,
   * or a request that raced the first), per {@link keyVerdict}: the same
   * reservation with `Idempotent-Replayed` (202 while its charge is settled),
   * 409 while the first request is still under way, 422 for another request
   * under the same key. Undefined when the key is new to this user.
   */
  private async replay(
    userId: string,
    key: string,
    requestHash: string,
  ): Promise<BookingResult | undefined> {
    // a take-over reads the key again once: it is then handed over, settled or undone
    for (let round = 0; round < 3; round++) {
      // one statement on the primary (the latest commits), no transaction, no GTID round trip
      const known = await this.db.write(
        (m) => BookingStore.byKey(m, userId, key, this.rules.keyRetentionS),
        { readOnly: true },
      );
      if (!known) return undefined;
      const verdict = keyVerdict(known, requestHash, this.rules.reconcileAfterMs);
      if (verdict.kind === 'different_request') {
        throw new UnprocessableEntityException({
          error: 'idempotency_key_reused',
          message: 'this Idempotency-Key was used for a different reservation request',
        });
      }
      if (verdict.kind === 'in_flight') {
        bookings.inc({ outcome: 'key_in_use' });
        throw new IdempotencyKeyInUseError(verdict.retryAfterS);
      }
      if (verdict.kind === 'take_over') {
        // settled or undone meanwhile when not taken: read the key again
        await this.db.transaction((m) =>
          BookingStore.claimForReconciliation(m, known.reservationId),
        );
        continue;
      }
      const r = await this.db.write(
        (m) => m.findOneBy(Reservation, { id: known.reservationId, userId }),
        { readOnly: true },
      );
      if (!r) throw new IdempotencyKeyInUseError(1); // undone since
      bookings.inc({ outcome: 'replayed' });
      return {
        status: r.status === 'PENDING_PAYMENT' ? 202 : 201,
        reservation: reservationView(r),
        replayed: true,
      };
    }
    throw new IdempotencyKeyInUseError(1);
  }

  /**
   * The user's reservation, from a replica that has the caller's writes (or the
   * primary when `fresh`); another user's is not found, like a missing one.
   */
  async view(id: string, userId: string, fresh = false) {
    const find = (m: Parameters<Parameters<ReplicaRouter['read']>[0]>[0]) =>
      m.findOneBy(Reservation, { id, userId });
    const r = fresh ? await this.db.write(find, { readOnly: true }) : await this.db.read(find);
    if (!r) throw new NotFoundException(`no reservation ${id}`);
    return reservationView(r);
  }

  async byUser(userId: string) {
    const rows = await this.db.read((m) =>
      m.find(Reservation, { where: { userId }, order: { createdAt: 'DESC' }, take: 100 }),
    );
    return { items: rows.map(reservationView) };
  }

  /**
   * Cancels the user's reservation, as a saga with a point of no return: the
   * reservation turns CANCELLING (nights still held), payment refunds it
   * (idempotent), then the nights are released (CANCELLED). When the refund
   * cannot be confirmed now (payment slow, unreachable, its breaker open) the
   * answer is 202 with the reservation CANCELLING, and the reconciler finishes
   * it; a repeated cancel finishes it too. Cancelling twice is a no-op;
   * another user's reservation is not found.
   */
  async cancel(
    id: string,
    userId: string,
  ): Promise<{ status: 200 | 202; reservation: ReturnType<typeof reservationView> }> {
    const r = await this.db.transaction((m) => m.findOneBy(Reservation, { id, userId }));
    if (!r) throw new NotFoundException(`no reservation ${id}`);
    if (r.status === 'CANCELLED' || r.status === 'FAILED')
      return { status: 200, reservation: reservationView(r) };
    if (r.status === 'PENDING_PAYMENT') {
      throw new UnprocessableEntityException({
        error: 'payment_pending',
        message: `reservation ${id} is still being charged; try again shortly`,
      });
    }
    if (r.status === 'CONFIRMED') await this.db.transaction((m) => BookingStore.startCancel(m, id));
    try {
      await this.payment.refund(id);
    } catch (err) {
      // a refusal is payment's answer (no such charge): the error; anything else (no answer,
      // breaker open) leaves the outcome to the reconciler, which refunds it again
      if (isClientRpcError(err)) throw err;
      cancels.inc({ outcome: 'pending' });
      const pending = await this.db.transaction((m) => m.findOneByOrFail(Reservation, { id }));
      return { status: 202, reservation: reservationView(pending) };
    }
    const done = await this.db.transaction((m) => BookingStore.release(m, id, 'CANCELLED', null));
    cancels.inc({ outcome: 'cancelled' });
    return { status: 200, reservation: reservationView(done as Reservation) };
  }
}
