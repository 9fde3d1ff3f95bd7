import type { QueryRunner } from 'typeorm';
import { exactIdentifiersMigration } from './collation';

describe('exactIdentifiersMigration', () => {
  const Migration = exactIdentifiersMigration(
    'ExactIdentifiers1765000000000',
    [
      ['parents', { id: 'VARCHAR(64) NOT NULL' }],
      ['children', { parent_id: 'VARCHAR(64) NOT NULL', note_id: 'CHAR(36) NULL' }],
    ],
    [
      {
        table: 'children',
        name: 'fk_parent',
        definition: 'FOREIGN KEY (parent_id) REFERENCES parents (id)',
      },
    ],
  );
  const run = async (step: 'up' | 'down') => {
    const sql: string[] = [];
    const q = { query: async (text: string) => void sql.push(text) } as unknown as QueryRunner;
    await new Migration()[step](q);
    return sql;
  };

  it('is named with its timestamp, as TypeORM orders migrations', () => {
    expect(new Migration().name).toBe('ExactIdentifiers1765000000000');
  });

  it('makes the columns byte-exact with no padding, the foreign key dropped around them', async () => {
    expect(await run('up')).toEqual([
      'ALTER TABLE children DROP FOREIGN KEY fk_parent',
      'ALTER TABLE parents MODIFY id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL',
      'ALTER TABLE children MODIFY parent_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL, ' +
        'MODIFY note_id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL',
      'ALTER TABLE children ADD CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES parents (id)',
    ]);
  });

  it('goes back to the server default on down', async () => {
    const sql = await run('down');
    expect(sql).toHaveLength(4);
    expect(sql.slice(1, 3).every((s) => s.includes('COLLATE utf8mb4_unicode_ci'))).toBe(true);
  });
});
