import type { Stack } from '@stayline/stack-kit';
import { pino } from 'pino';
import {
  Column,
  Entity,
  EntityManager,
  MigrationInterface,
  PrimaryColumn,
  QueryRunner,
} from 'typeorm';
import type { ReplicaRouterOptions } from '../lib/router-options';

/** The table the database library's own tests write and read. */
@Entity({ name: 'note' })
export class Note {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 255 })
  body!: string;

  @Column({ type: 'varchar', length: 64, default: '' })
  author!: string;
}

/** Its migration, as a service would ship it. */
export class CreateNote1760000000000 implements MigrationInterface {
  name = 'CreateNote1760000000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.query(
      "CREATE TABLE note (id VARCHAR(64) NOT NULL PRIMARY KEY, body VARCHAR(255) NOT NULL, author VARCHAR(64) NOT NULL DEFAULT '')",
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.query('DROP TABLE note');
  }
}

/** Router options for a launcher stack: its primary and replicas, the app user, quiet logs. */
export function stackRouterOptions(
  stack: Stack,
  overrides: Partial<ReplicaRouterOptions> = {},
): ReplicaRouterOptions {
  const { primary, replicas } = stack.mariadb;
  return {
    database: 'reservation',
    ...stack.credentials.app,
    topology: { epoch: 1, primary, replicas },
    entities: [Note],
    logger: pino({ level: process.env['LOG_LEVEL'] ?? 'silent' }),
    ...overrides,
  };
}

/** The server a piece of work ran on (`@@server_id`: 1 is mariadb-1, the launcher's first primary). */
export async function serverId(manager: EntityManager): Promise<number> {
  const rows: Array<{ id: unknown }> = await manager.query('SELECT @@server_id AS id');
  return Number(rows[0]?.id);
}
