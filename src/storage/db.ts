import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import Database from 'better-sqlite3';
import {
  Kysely,
  PostgresDialect,
  sql,
  SqliteDialect,
  type PostgresPool,
  type PostgresPoolClient,
  type SqliteDatabase,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import type { Config } from '../platform/config.js';
import type { StoreTables } from './schema.js';

/** Which backend a store runs on. */
export type Backend = 'sqlite' | 'postgres';

/** Where the store lives: a PostgreSQL URL (optionally inside one schema) or a SQLite file. */
export type DatabaseTarget =
  | {
      backend: 'postgres';
      url: string;
      schema?: string;
      poolSize?: number;
      /** TLS to the server (false: none); unset leaves it to the URL's `sslmode`. */
      ssl?: false | TlsOptions;
    }
  | { backend: 'sqlite'; file: string; synchronous?: 'FULL' | 'NORMAL' };

/** An open database handle with its backend. */
export interface Db {
  backend: Backend;
  /** The PostgreSQL schema the store lives in, when one was named. */
  schema?: string;
  kysely: Kysely<StoreTables>;
  /**
   * Answers when the database does. On PostgreSQL it uses a connection of its own, so a readiness probe
   * tells an unreachable server from a pool that is busy with work.
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How long taking a connection from the pool may wait before the query fails (pg's default waits forever). */
const POOL_CONNECT_TIMEOUT_MS = 10_000;
/** How long the readiness ping may wait for its own connection. */
const PING_CONNECT_TIMEOUT_MS = 2_000;

/**
 * The TLS options of the PostgreSQL connection (SHIPSYNC_DATABASE_SSL*): `disable` none, `require`
 * encrypted without checking the certificate, `verify-full` certificate and host name checked (against
 * SHIPSYNC_DATABASE_SSL_CA or the system's CAs); a client certificate and key when configured. Undefined
 * when unset: the URL's `sslmode` decides.
 */
export function postgresTls(
  config: Pick<
    Config,
    | 'SHIPSYNC_DATABASE_SSL'
    | 'SHIPSYNC_DATABASE_SSL_CA'
    | 'SHIPSYNC_DATABASE_SSL_CERT'
    | 'SHIPSYNC_DATABASE_SSL_KEY'
  >,
): false | TlsOptions | undefined {
  const mode = config.SHIPSYNC_DATABASE_SSL;
  if (mode === undefined) return undefined;
  if (mode === 'disable') return false;
  const {
    SHIPSYNC_DATABASE_SSL_CA: ca,
    SHIPSYNC_DATABASE_SSL_CERT: cert,
    SHIPSYNC_DATABASE_SSL_KEY: key,
  } = config;
  return {
    rejectUnauthorized: mode === 'verify-full',
    ...(mode === 'verify-full' && ca ? { ca: readFileSync(ca, 'utf8') } : {}),
    ...(cert && key ? { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') } : {}),
  };
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** PostgreSQL bigint (int8) columns and count(*) come back as numbers; ids stay far below 2^53. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20
      ? (value: string) => Number(value)
      : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(
          oid,
          format,
        )) as typeof pg.types.getTypeParser,
};

/** Compiled SQLite statements kept per connection, by their text. */
export const SQLITE_STATEMENT_CACHE_SIZE = 500;

/**
 * A SQLite handle for kysely that keeps the statements it compiled. Kysely asks better-sqlite3 to prepare
 * every query it runs, and compiling one costs more CPU than running most of ours (a profile of the gateway
 * under the bench: a tenth of its busy time in `prepare`). The store runs a few dozen query texts with new
 * parameters each time, so a statement is compiled once and kept, least recently used first out. A statement
 * still being iterated (a streamed select) is not handed out again: its text is prepared anew.
 */
export function withStatementCache(
  database: Database.Database,
  size = SQLITE_STATEMENT_CACHE_SIZE,
): SqliteDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
    prepare(text: string) {
      const kept = statements.get(text);
      if (kept && !kept.busy) {
        // Most recently used last, so the first key is the one to drop.
        statements.delete(text);
        statements.set(text, kept);
        return kept;
      }
      const statement = database.prepare(text);
      if (!kept) {
        statements.set(text, statement);
        if (statements.size > size) statements.delete(statements.keys().next().value!);
      }
      return statement;
    },
  };
}

/** Opens the database (creating the SQLite file or the PostgreSQL schema when missing). */
export async function openDb(target: DatabaseTarget): Promise<Db> {
  if (target.backend === 'sqlite') {
    mkdirSync(dirname(target.file), { recursive: true });
    const database = new Database(target.file);
    database.pragma('journal_mode = WAL');
    // Several processes may share one file (a CLI next to the gateway); wait for the write lock.
    database.pragma('busy_timeout = 5000');
    database.pragma(`synchronous = ${target.synchronous ?? 'FULL'}`);
    database.pragma('foreign_keys = ON');
    const kysely = new Kysely<StoreTables>({
      dialect: new SqliteDialect({ database: withStatementCache(database) }),
    });
    const ping = async () => {
      await sql`select 1`.execute(kysely);
    };
    return { backend: 'sqlite', kysely, ping, close: () => kysely.destroy() };
  }
  const schema = target.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name "${schema}"`);
  if (schema) {
    const admin = new pg.Client({
      connectionString: target.url,
      ...(target.ssl !== undefined ? { ssl: target.ssl } : {}),
    });
    await admin.connect();
    try {
      await admin.query(`create schema if not exists "${schema}"`);
    } finally {
      await admin.end();
    }
  }
  const connection = {
    connectionString: target.url,
    types: pgTypes,
    keepAlive: true,
    ...(target.ssl !== undefined ? { ssl: target.ssl } : {}),
    ...(schema ? { options: `-c search_path="${schema}"` } : {}),
  };
  const pool = new pg.Pool({
    ...connection,
    max: target.poolSize ?? 10,
    connectionTimeoutMillis: POOL_CONNECT_TIMEOUT_MS,
  });
  const pingPool = new pg.Pool({
    ...connection,
    max: 1,
    connectionTimeoutMillis: PING_CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 60_000,
  });
  // An idle client that loses its server must not crash the process; the next query reports the error.
  pool.on('error', () => {});
  pingPool.on('error', () => {});
  // Nor may a checked-out one (the pool listens to idle clients only): a PostgreSQL restart between two
  // queries of a transaction fails that transaction's next query instead of ending the process.
  const survive = (client: pg.PoolClient) => void client.on('error', () => {});
  pool.on('connect', survive);
  pingPool.on('connect', survive);
  const kysely = new Kysely<StoreTables>({ dialect: new PostgresDialect({ pool: discardingEnded(pool) }) });
  return {
    backend: 'postgres',
    kysely,
    ...(schema ? { schema } : {}),
    ping: async () => {
      await pingPool.query('select 1');
    },
    close: async () => {
      await Promise.all([kysely.destroy(), pingPool.end()]);
    },
  };
}

/** True for an error after which the connection is gone: the server ended the session, or the socket closed. */
function endsSession(err: unknown): boolean {
  const e = err as { severity?: unknown; code?: unknown; message?: unknown } | null;
  return (
    e?.severity === 'FATAL' ||
    e?.severity === 'PANIC' ||
    (typeof e?.code === 'string' && /^57P0[123]$/.test(e.code)) ||
    (typeof e?.message === 'string' && /Connection terminated/i.test(e.message))
  );
}

/**
 * The pool as Kysely takes it, except that a client whose query met the end of its session is destroyed on
 * release instead of going back to the pool: the server's FATAL answer (a restart, `pg_terminate_backend`)
 * fails the query before the socket's end is read, and without this the next query could take the dead
 * client and fail too.
 */
function discardingEnded(pool: pg.Pool): PostgresPool {
  // One wrapper per pooled client (Kysely keys its connections by the client object it is given).
  const wrappers = new WeakMap<pg.PoolClient, { client: PostgresPoolClient; ended: boolean }>();
  const wrap = (pooled: pg.PoolClient) => {
    const query = pooled.query.bind(pooled) as (...args: unknown[]) => unknown;
    const wrapper = {
      ended: false,
      client: {
        query: ((...args: unknown[]) => {
          const result = query(...args);
          if (result instanceof Promise) {
            result.catch((err: unknown) => {
              if (endsSession(err)) wrapper.ended = true;
            });
          }
          return result;
        }) as PostgresPoolClient['query'],
        release: (destroy?: boolean) => pooled.release(wrapper.ended || destroy === true),
      },
    };
    return wrapper;
  };
  return {
    async connect() {
      const pooled = await pool.connect();
      let wrapper = wrappers.get(pooled);
      if (!wrapper) wrappers.set(pooled, (wrapper = wrap(pooled)));
      wrapper.ended = false;
      return wrapper.client;
    },
    end: () => pool.end(),
  };
}

/**
 * Runs fn in a write transaction. On SQLite it starts with BEGIN IMMEDIATE so two processes never deadlock
 * upgrading a read lock; on PostgreSQL it is an ordinary transaction.
 */
export async function writeTransaction<T>(
  db: Db,
  fn: (trx: Kysely<StoreTables> | Transaction<StoreTables>) => Promise<T>,
): Promise<T> {
  if (db.backend === 'postgres') return db.kysely.transaction().execute(fn);
  return db.kysely.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const result = await fn(conn);
      await sql`commit`.execute(conn);
      return result;
    } catch (err) {
      await sql`rollback`.execute(conn);
      throw err;
    }
  });
}

/** Serialises a value for a JSON column. */
export function toJsonColumn(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** Reads a JSON column (text; a value that arrives already parsed is taken as is). */
export function fromJsonColumn<T = unknown>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** Reads a timestamp column as an ISO-8601 string. */
export function toIso(value: string | Date): string;
export function toIso(value: string | Date | null): string | null;
export function toIso(value: string | Date | null): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : value;
}

/** Drops a PostgreSQL schema and everything in it (tests and benchmarks clean up with it). */
export async function dropPostgresSchema(url: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name "${schema}"`);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await admin.end();
  }
}
