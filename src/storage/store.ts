import { join } from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../platform/config.js';
import { openDb, postgresTls, type Backend, type DatabaseTarget, type Db } from './db.js';
import { AuditRepository } from './audit.js';
import { DeadLetterRepository } from './dead-letters.js';
import { IdempotencyRepository } from './idempotency.js';
import { InboxRepository } from './inbox.js';
import { migrate } from './migrations.js';
import { TelemetryBatcher, TelemetryRepository, type TelemetryBatcherOptions } from './telemetry.js';

/** The middleware's own tables behind one API, on SQLite or PostgreSQL. */
export interface Store {
  backend: Backend;
  inbox: InboxRepository;
  deadLetters: DeadLetterRepository;
  telemetry: TelemetryRepository;
  idempotency: IdempotencyRepository;
  /** The append-only audit trail. */
  audit: AuditRepository;
  /** The underlying database, for tests and maintenance. */
  db: Db;
  /** A batcher writing into this store's telemetry table. */
  telemetryBatcher(opts?: TelemetryBatcherOptions): TelemetryBatcher;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** Closes the connections. */
  close(): Promise<void>;
}

/** Opens a store and applies its migrations. */
export async function openStore(target: DatabaseTarget): Promise<Store> {
  const db = await openDb(target);
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  const telemetry = new TelemetryRepository(db);
  return {
    backend: db.backend,
    db,
    inbox: new InboxRepository(db),
    deadLetters: new DeadLetterRepository(db),
    telemetry,
    idempotency: new IdempotencyRepository(db),
    audit: new AuditRepository(db),
    telemetryBatcher: (opts) => new TelemetryBatcher(telemetry, opts),
    ping: async () => {
      await sql`select 1`.execute(db.kysely);
    },
    close: () => db.close(),
  };
}

/** Default name of the embedded store inside the data directory. */
export const SQLITE_FILE_NAME = 'gateway.sqlite';

/** Where the configuration puts the store: PostgreSQL when a URL is set, else a SQLite file in the data dir. */
export function storeTargetFromConfig(config: Config): DatabaseTarget {
  if (!config.SHIPSYNC_DATABASE_URL)
    return { backend: 'sqlite', file: join(config.SHIPSYNC_DATA_DIR, SQLITE_FILE_NAME) };
  const ssl = postgresTls(config);
  return {
    backend: 'postgres',
    url: config.SHIPSYNC_DATABASE_URL,
    ...(ssl !== undefined ? { ssl } : {}),
  };
}

export type { Backend, DatabaseTarget } from './db.js';
export type { AuditEntry, AuditPrincipalKind, AuditQuery, NewAuditEntry } from './audit.js';
export type { DeadLetter, NewDeadLetter } from './dead-letters.js';
export type { StoredResponse } from './idempotency.js';
export { InboxWriter } from './inbox.js';
export type { EventSource, InboxRow, NewInboxEvent } from './inbox.js';
export type { TelemetryBatcher, TelemetryPosition } from './telemetry.js';
export type { DeadLetterStage, DeadLetterStatus, InboxStatus } from './schema.js';
