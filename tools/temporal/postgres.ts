/*
 * Temporal server on PostgreSQL for production-like runs and tests: binaries built from Go modules
 * (postgres/provision.ts), schema setup (postgres/schema.ts), the server process (postgres/server.ts);
 * for-tests.ts picks the dev server or this one for a test run.
 */
export * from './postgres/provision.js';
export * from './postgres/schema.js';
export * from './postgres/server.js';
export * from './for-tests.js';
