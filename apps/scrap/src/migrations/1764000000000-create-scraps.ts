import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateScraps1764000000000 implements MigrationInterface {
  name = 'CreateScraps1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE scraps (
      id CHAR(36) NOT NULL PRIMARY KEY,
      user_id VARCHAR(64) NOT NULL,
      url VARCHAR(2048) NOT NULL,
      title VARCHAR(512) NULL,
      description TEXT NULL,
      image VARCHAR(2048) NULL,
      og_url VARCHAR(2048) NULL,
      og_type VARCHAR(64) NULL,
      site_name VARCHAR(256) NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      KEY ix_scraps_user (user_id, created_at)
    ) ENGINE=InnoDB`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE scraps');
  }
}
