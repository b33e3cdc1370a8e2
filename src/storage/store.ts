import { join } from 'node:path';
import type { PayloadKeyring } from '../platform/codec.js';
import type { Config } from '../platform/config.js';
import { plainColumns, sealedColumns } from './at-rest.js';
import { openDb, postgresTls, type Backend, type DatabaseTarget, type Db } from './db.js';
import { AuditRepository } from './audit.js';
import { DeadLetterRepository } from './dead-letters.js';
import { IdempotencyRepository } from './idempotency.js';
import { InboxRepository } from './inbox.js';
import { migrate } from './migrations.js';
import { OdsRepository } from './ods.js';
import { ReconciliationRepository } from './reconciliation.js';
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
  /** The operational data store's read model (shipments, stops, cases, timeline). */
  ods: OdsRepository;
  /** Reconciliation reports (ReconciliationWorkflow). */
  reconciliation: ReconciliationRepository;
  /** The underlying database, for tests and maintenance. */
  db: Db;
  /** A batcher writing into this store's telemetry table. */
  telemetryBatcher(opts?: TelemetryBatcherOptions): TelemetryBatcher;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** Closes the connections. */
  close(): Promise<void>;
}

/**
 * Opens a store and applies its migrations. With a keyring, the columns holding personal data (inbox and
 * dead-letter bodies and headers, telemetry positions) are sealed on write with its current key; rows
 * written before are read as they are.
 */
export async function openStore(
  target: DatabaseTarget,
  opts: { keyring?: PayloadKeyring } = {},
): Promise<Store> {
  const db = await openDb(target);
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  const cipher = opts.keyring ? sealedColumns(opts.keyring) : plainColumns();
  const telemetry = new TelemetryRepository(db, cipher);
  return {
    backend: db.backend,
    db,
    inbox: new InboxRepository(db, cipher),
    deadLetters: new DeadLetterRepository(db, cipher),
    telemetry,
    idempotency: new IdempotencyRepository(db),
    audit: new AuditRepository(db),
    ods: new OdsRepository(db),
    reconciliation: new ReconciliationRepository(db),
    telemetryBatcher: (opts) => new TelemetryBatcher(telemetry, opts),
    ping: () => db.ping(),
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
export type { OdsCase, OdsEvent, OdsShipment, OdsShipmentUpsert, OdsStop, StopChange } from './ods.js';
export type { StoredResponse } from './idempotency.js';
export type { ReconciliationReportSummary } from './reconciliation.js';
export { InboxWriter } from './inbox.js';
export type { EventSource, InboxRow, NewInboxEvent } from './inbox.js';
export type { TelemetryBatcher, TelemetryPosition } from './telemetry.js';
export type { DeadLetterStage, DeadLetterStatus, InboxStatus } from './schema.js';
