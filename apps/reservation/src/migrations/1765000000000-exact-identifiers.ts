import { exactIdentifiersMigration } from '@stayline/database';

/** Identifier columns compare exactly: `Alice` does not see `alice`'s reservations. */
export const ExactIdentifiers1765000000000 = exactIdentifiersMigration(
  'ExactIdentifiers1765000000000',
  [
    ['listings', { id: 'VARCHAR(64) NOT NULL' }],
    [
      'reservations',
      {
        id: 'CHAR(36) NOT NULL',
        listing_id: 'VARCHAR(64) NOT NULL',
        user_id: 'VARCHAR(64) NOT NULL',
        payment_id: 'CHAR(36) NULL',
      },
    ],
    ['booked_nights', { listing_id: 'VARCHAR(64) NOT NULL', reservation_id: 'CHAR(36) NOT NULL' }],
    [
      'idempotency_keys',
      { idem_key: 'VARCHAR(128) NOT NULL', reservation_id: 'CHAR(36) NOT NULL' },
    ],
    ['outbox', { event_id: 'CHAR(36) NOT NULL' }],
  ],
  [
    {
      table: 'reservations',
      name: 'fk_reservations_listing',
      definition: 'FOREIGN KEY (listing_id) REFERENCES listings (id)',
    },
  ],
);
