/**
 * The experiments of `npm run demo:<pattern>`: a live timeline, checks that the
 * system healed, and a table of measured figures (docs/patterns/*.md).
 */
export * from './lib/demo';
export * from './lib/bookings';
export * from './lib/users';
export * from './lib/admin';
export * from './lib/logs';
export * from './lib/flag-views';
export * from './lib/database-views';
