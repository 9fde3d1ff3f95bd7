import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateAffinity1764000000000 implements MigrationInterface {
  name = 'CreateAffinity1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE user_city_affinity (
      user_id VARCHAR(64) NOT NULL, city VARCHAR(64) NOT NULL, bookings INT NOT NULL DEFAULT 0,
      PRIMARY KEY (user_id, city)) ENGINE=InnoDB`);
    await q.query(`CREATE TABLE user_band_affinity (
      user_id VARCHAR(64) NOT NULL, band VARCHAR(16) NOT NULL, bookings INT NOT NULL DEFAULT 0,
      PRIMARY KEY (user_id, band)) ENGINE=InnoDB`);
    await q.query(`CREATE TABLE listing_popularity (
      listing_id VARCHAR(64) NOT NULL PRIMARY KEY, bookings INT NOT NULL DEFAULT 0) ENGINE=InnoDB`);
    // one row per applied event: the at-least-once stream may deliver an event twice
    await q.query(`CREATE TABLE applied_events (
      event_id VARCHAR(64) NOT NULL PRIMARY KEY,
      applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'applied_events',
      'listing_popularity',
      'user_band_affinity',
      'user_city_affinity',
    ]) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
