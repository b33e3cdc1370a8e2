import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { provisionTemporalServer } from './provision.js';

const execFileAsync = promisify(execFile);

/** Where the server's PostgreSQL databases live. */
export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** Database for the default store (executions, history, namespaces...). */
  dbName: string;
  /** Database for the visibility store (list/count queries, search attributes). */
  visibilityDbName: string;
  /** `postgres12` (lib/pq) or `postgres12_pgx`. */
  plugin?: 'postgres12' | 'postgres12_pgx';
}

/** Default databases: `temporal` and `temporal_visibility` on the local PostgreSQL as `postgres`. */
export const DEFAULT_POSTGRES_TARGET: PostgresTarget = {
  host: '127.0.0.1',
  port: 5432,
  user: 'postgres',
  dbName: 'temporal',
  visibilityDbName: 'temporal_visibility',
  plugin: 'postgres12',
};

/** What `setupPostgresSchemas` did to each database. */
export interface SchemaSetupResult {
  created: string[];
  initialised: string[];
  versions: Record<string, string>;
  elapsedMs: number;
}

const DB_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function assertDbName(name: string): void {
  if (!DB_NAME.test(name)) throw new Error(`database name "${name}" must match ${String(DB_NAME)}`);
}

async function withPg<T>(
  t: PostgresTarget,
  database: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ host: t.host, port: t.port, user: t.user, password: t.password, database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates the two databases if missing, runs `setup-schema -v 0.0` only where no `schema_version` table exists,
 * then `update-schema` to the newest versioned schema; safe to run before every start.
 */
export async function setupPostgresSchemas(
  target: PostgresTarget,
  schemaTool?: { sqlToolPath: string; schemaDir: string },
  say: (line: string) => void = () => {},
): Promise<SchemaSetupResult> {
  const tool = schemaTool ?? (await provisionTemporalServer(say));
  const started = Date.now();
  const result: SchemaSetupResult = { created: [], initialised: [], versions: {}, elapsedMs: 0 };
  const stores = [
    { db: target.dbName, dir: join(tool.schemaDir, 'temporal', 'versioned') },
    { db: target.visibilityDbName, dir: join(tool.schemaDir, 'visibility', 'versioned') },
  ];
  for (const { db } of stores) assertDbName(db);
  await withPg(target, 'postgres', async (client) => {
    for (const { db } of stores) {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (found.rowCount === 0) {
        await client.query(`CREATE DATABASE "${db}"`);
        result.created.push(db);
      }
    }
  });
  const base = ['--endpoint', target.host, '--port', String(target.port), '--user', target.user];
  base.push('--plugin', target.plugin ?? 'postgres12');
  // The tool reads the password from SQL_PASSWORD, which keeps it out of the process list.
  const env = { ...process.env, SQL_PASSWORD: target.password ?? '' };
  for (const { db, dir } of stores) {
    const hasVersionTable = await withPg(target, db, async (client) => {
      const r = await client.query<{ t: string | null }>(
        "SELECT to_regclass('public.schema_version')::text AS t",
      );
      return r.rows[0]?.t != null;
    });
    if (!hasVersionTable) {
      await execFileAsync(tool.sqlToolPath, [...base, '--database', db, 'setup-schema', '-v', '0.0'], {
        env,
      });
      result.initialised.push(db);
    }
    await execFileAsync(tool.sqlToolPath, [...base, '--database', db, 'update-schema', '--schema-dir', dir], {
      env,
    });
    result.versions[db] = await withPg(target, db, async (client) => {
      const r = await client.query<{ curr_version: string }>(
        'SELECT curr_version FROM schema_version WHERE version_partition = 0 AND db_name = $1',
        [db],
      );
      return r.rows[0]?.curr_version ?? 'unknown';
    });
  }
  result.elapsedMs = Date.now() - started;
  const versions = Object.entries(result.versions)
    .map(([db, v]) => `${db}@${v}`)
    .join(', ');
  const created = result.created.length ? `created ${result.created.join(', ')}; ` : '';
  say(`postgresql schemas ready in ${result.elapsedMs} ms: ${created}${versions}`);
  return result;
}

/** Drops databases (closing their sessions first); used for throwaway test databases. */
export async function dropPostgresDatabases(
  target: Omit<PostgresTarget, 'dbName' | 'visibilityDbName'>,
  names: string[],
): Promise<void> {
  for (const name of names) assertDbName(name);
  await withPg(
    { ...target, dbName: 'postgres', visibilityDbName: 'postgres' },
    'postgres',
    async (client) => {
      for (const name of names) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  );
}
