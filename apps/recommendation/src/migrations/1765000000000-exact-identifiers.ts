import { exactIdentifiersMigration } from '@stayline/database';

/** Identifier columns compare exactly: `Alice` has no share in `alice`'s profile. */
export const ExactIdentifiers1765000000000 = exactIdentifiersMigration(
  'ExactIdentifiers1765000000000',
  [
    ['user_city_affinity', { user_id: 'VARCHAR(64) NOT NULL' }],
    ['user_band_affinity', { user_id: 'VARCHAR(64) NOT NULL' }],
    ['listing_popularity', { listing_id: 'VARCHAR(64) NOT NULL' }],
    ['applied_events', { event_id: 'VARCHAR(64) NOT NULL' }],
  ],
);
