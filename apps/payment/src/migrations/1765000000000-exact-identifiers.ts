import { exactIdentifiersMigration } from '@stayline/database';

/** Identifier columns compare exactly: `Alice` does not see `alice`'s payments. */
export const ExactIdentifiers1765000000000 = exactIdentifiersMigration(
  'ExactIdentifiers1765000000000',
  [
    [
      'payments',
      {
        id: 'CHAR(36) NOT NULL',
        reservation_id: 'VARCHAR(64) NOT NULL',
        user_id: 'VARCHAR(64) NOT NULL',
      },
    ],
  ],
);
