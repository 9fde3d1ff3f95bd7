import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateReservationSchema1764000000000 implements MigrationInterface {
  name = 'CreateReservationSchema1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE listings (
      id VARCHAR(64) NOT NULL PRIMARY KEY,
      title VARCHAR(200) NOT NULL,
      city VARCHAR(64) NOT NULL,
      price_per_night_cents INT UNSIGNED NOT NULL,
      currency CHAR(3) NOT NULL,
      capacity TINYINT UNSIGNED NOT NULL,
      rating DECIMAL(3,2) NOT NULL,
      bookings INT UNSIGNED NOT NULL DEFAULT 0,
      KEY ix_listings_city_rank (city, rating, bookings),
      KEY ix_listings_rank (rating, bookings)
    ) ENGINE=InnoDB`);
    await q.query(`CREATE TABLE reservations (
      id CHAR(36) NOT NULL PRIMARY KEY,
      listing_id VARCHAR(64) NOT NULL,
      user_id VARCHAR(64) NOT NULL,
      check_in DATE NOT NULL,
      check_out DATE NOT NULL,
      guests TINYINT UNSIGNED NOT NULL,
      amount_cents INT UNSIGNED NOT NULL,
      currency CHAR(3) NOT NULL,
      status VARCHAR(24) NOT NULL,
      payment_id CHAR(36) NULL,
      failure_reason VARCHAR(255) NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
      KEY ix_reservations_user (user_id, created_at),
      KEY ix_reservations_pending (status, updated_at),
      CONSTRAINT fk_reservations_listing FOREIGN KEY (listing_id) REFERENCES listings (id)
    ) ENGINE=InnoDB`);
    // one row per booked night: the primary key is what makes double booking impossible, under any concurrency
    await q.query(`CREATE TABLE booked_nights (
      listing_id VARCHAR(64) NOT NULL,
      night DATE NOT NULL,
      reservation_id CHAR(36) NOT NULL,
      PRIMARY KEY (listing_id, night),
      KEY ix_booked_nights_reservation (reservation_id)
    ) ENGINE=InnoDB`);
    await q.query(`CREATE TABLE idempotency_keys (
      idem_key VARCHAR(128) NOT NULL PRIMARY KEY,
      request_hash CHAR(64) NOT NULL,
      reservation_id CHAR(36) NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
    ) ENGINE=InnoDB`);
    // events written in the same transaction as the change they describe, relayed to the stream afterwards
    await q.query(`CREATE TABLE outbox (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      event_id CHAR(36) NOT NULL,
      payload TEXT NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      published_at DATETIME(3) NULL,
      UNIQUE KEY uq_outbox_event (event_id),
      KEY ix_outbox_unpublished (published_at, id)
    ) ENGINE=InnoDB`);
    // the highest fencing token that has written: a stale reconciler's token is refused in SQL
    await q.query(`CREATE TABLE fencing (
      name VARCHAR(64) NOT NULL PRIMARY KEY,
      token BIGINT UNSIGNED NOT NULL
    ) ENGINE=InnoDB`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'fencing',
      'outbox',
      'idempotency_keys',
      'booked_nights',
      'reservations',
      'listings',
    ]) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
