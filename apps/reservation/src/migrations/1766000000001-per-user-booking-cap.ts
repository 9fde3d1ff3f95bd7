import { EXACT_COLLATION } from '@stayline/database';
import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the cap on a user's active bookings needs: a row per user that every
 * hold of that user locks before it counts (so two holds of one user cannot
 * both count below the cap), and an index the count reads alone.
 */
export class PerUserBookingCap1766000000001 implements MigrationInterface {
  name = 'PerUserBookingCap1766000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE booking_users (
      user_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE ${EXACT_COLLATION} NOT NULL PRIMARY KEY
    ) ENGINE=InnoDB`);
    await q.query(
      'ALTER TABLE reservations ADD KEY ix_reservations_user_active (user_id, status, check_out)',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE reservations DROP KEY ix_reservations_user_active');
    await q.query('DROP TABLE booking_users');
  }
}
