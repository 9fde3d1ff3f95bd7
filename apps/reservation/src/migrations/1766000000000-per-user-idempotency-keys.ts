import { EXACT_COLLATION } from '@stayline/database';
import { MigrationInterface, QueryRunner } from 'typeorm';

const USER_ID = `VARCHAR(64) CHARACTER SET utf8mb4 COLLATE ${EXACT_COLLATION}`;

/**
 * Idempotency keys belong to a user: the key is unique per (user_id, idem_key),
 * so two users sending the same key make two bookings and neither learns of the
 * other's key. `idem_key` keeps the client's key as sent. Rows that exist get
 * their reservation's user; a key whose reservation is gone names nothing to
 * replay and is dropped. `created_at` is indexed for the sweep of expired keys.
 */
export class PerUserIdempotencyKeys1766000000000 implements MigrationInterface {
  name = 'PerUserIdempotencyKeys1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_keys ADD COLUMN user_id ${USER_ID} NULL FIRST`);
    await q.query(
      'UPDATE idempotency_keys k JOIN reservations r ON r.id = k.reservation_id SET k.user_id = r.user_id',
    );
    await q.query('DELETE FROM idempotency_keys WHERE user_id IS NULL');
    await q.query(
      `ALTER TABLE idempotency_keys MODIFY user_id ${USER_ID} NOT NULL, ` +
        'DROP PRIMARY KEY, ADD PRIMARY KEY (user_id, idem_key), ' +
        'ADD KEY ix_idempotency_keys_created (created_at)',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // one key across users again: of a key several users hold, the oldest row stays
    await q.query(
      'DELETE k FROM idempotency_keys k JOIN idempotency_keys o ON o.idem_key = k.idem_key ' +
        'AND (o.created_at < k.created_at OR (o.created_at = k.created_at AND o.user_id < k.user_id))',
    );
    await q.query(
      'ALTER TABLE idempotency_keys DROP KEY ix_idempotency_keys_created, ' +
        'DROP PRIMARY KEY, ADD PRIMARY KEY (idem_key), DROP COLUMN user_id',
    );
  }
}
