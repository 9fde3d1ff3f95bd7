import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreatePayments1764000000000 implements MigrationInterface {
  name = 'CreatePayments1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE payments (
      id CHAR(36) NOT NULL PRIMARY KEY,
      reservation_id VARCHAR(64) NOT NULL,
      user_id VARCHAR(64) NOT NULL,
      amount_cents INT UNSIGNED NOT NULL,
      currency CHAR(3) NOT NULL,
      status VARCHAR(16) NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      refunded_at DATETIME(3) NULL,
      UNIQUE KEY uq_payments_reservation (reservation_id),
      KEY ix_payments_user (user_id)
    ) ENGINE=InnoDB`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE payments');
  }
}
