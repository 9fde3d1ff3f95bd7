import { exactIdentifiersMigration } from '@stayline/database';

/** Identifier columns compare exactly: `Alice` does not list `alice`'s saved pages. */
export const ExactIdentifiers1765000000000 = exactIdentifiersMigration(
  'ExactIdentifiers1765000000000',
  [['scraps', { id: 'CHAR(36) NOT NULL', user_id: 'VARCHAR(64) NOT NULL' }]],
);
