import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { MigrationClass } from './run-migrations';

/**
 * How string columns compare. Identifiers (ids, user ids, idempotency keys)
 * compare exactly: byte for byte, trailing spaces included. The server's
 * default, `utf8mb4_unicode_ci`, folds case, accents and width and pads with
 * spaces, so `Alice`, `alice`, `ALİCE` and `alice ` would be one user, and one
 * user would see another's rows. MariaDB's `_bin` collations are PAD SPACE;
 * `nopad_bin` is not.
 */
export const EXACT_COLLATION = 'utf8mb4_nopad_bin';

/** The server's default collation, the one the first schemas were created with. */
export const DEFAULT_COLLATION = 'utf8mb4_unicode_ci';

/**
 * Sets the collation of some columns of one table, in one `ALTER TABLE`.
 * `columns` maps each name to its type and nullability as declared, e.g.
 * `{ user_id: 'VARCHAR(64) NOT NULL' }` (MODIFY restates the whole column;
 * keys and indexes on it stay). Columns under a foreign key must change
 * together with the key dropped (both sides must have one collation).
 */
export async function setColumnCollation(
  q: QueryRunner,
  table: string,
  columns: Record<string, string>,
  collation: string,
): Promise<void> {
  const modify = Object.entries(columns).map(([name, type]) => {
    const [base, ...rest] = type.split(' ');
    return `MODIFY ${name} ${base} CHARACTER SET utf8mb4 COLLATE ${collation} ${rest.join(' ')}`;
  });
  await q.query(`ALTER TABLE ${table} ${modify.join(', ')}`);
}

/** A table's identifier columns: name to type and nullability as declared. */
export type IdentifierColumns = ReadonlyArray<[table: string, columns: Record<string, string>]>;

/** A foreign key over identifier columns: dropped while both sides change, then added back. */
export interface ForeignKeyDefinition {
  table: string;
  name: string;
  /** As after `ADD CONSTRAINT <name>`, e.g. `FOREIGN KEY (listing_id) REFERENCES listings (id)`. */
  definition: string;
}

/**
 * A TypeORM migration (named `name`, ending in its timestamp) that makes
 * identifier columns compare exactly ({@link EXACT_COLLATION}), and back to
 * the default collation on `down`.
 */
export function exactIdentifiersMigration(
  name: string,
  tables: IdentifierColumns,
  foreignKeys: readonly ForeignKeyDefinition[] = [],
): MigrationClass {
  const collate = async (q: QueryRunner, collation: string) => {
    for (const fk of foreignKeys)
      await q.query(`ALTER TABLE ${fk.table} DROP FOREIGN KEY ${fk.name}`);
    for (const [table, columns] of tables) await setColumnCollation(q, table, columns, collation);
    for (const fk of foreignKeys)
      await q.query(`ALTER TABLE ${fk.table} ADD CONSTRAINT ${fk.name} ${fk.definition}`);
  };
  return class implements MigrationInterface {
    name = name;
    up = (q: QueryRunner) => collate(q, EXACT_COLLATION);
    down = (q: QueryRunner) => collate(q, DEFAULT_COLLATION);
  };
}
