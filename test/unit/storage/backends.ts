import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { dropPostgresSchema } from '../../../src/storage/db.js';
import { openStore, type Store } from '../../../src/storage/store.js';

/** The machine's PostgreSQL (trust auth); override with SHIPSYNC_TEST_DATABASE_URL. */
export const TEST_PG_URL =
  process.env.SHIPSYNC_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A store on a fresh database of one backend, and how to open more stores on the same database. */
export interface TestDatabase {
  store: Store;
  /** Another store (own connections) on the same database, as a second gateway process would have. */
  openAnother(): Promise<Store>;
  /** Closes every store opened here and deletes the database. */
  dispose(): Promise<void>;
}

/** A fresh store on a temp SQLite file. */
export async function sqliteDatabase(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'shipsync-store-'));
  const file = join(dir, 'store.sqlite');
  const stores: Store[] = [await openStore({ backend: 'sqlite', file })];
  return {
    store: stores[0]!,
    openAnother: async () => {
      const s = await openStore({ backend: 'sqlite', file });
      stores.push(s);
      return s;
    },
    dispose: async () => {
      for (const s of stores) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh store in its own PostgreSQL schema, dropped on dispose. */
export async function postgresDatabase(): Promise<TestDatabase> {
  const schema = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const stores: Store[] = [await openStore({ backend: 'postgres', url: TEST_PG_URL, schema, poolSize: 4 })];
  return {
    store: stores[0]!,
    openAnother: async () => {
      const s = await openStore({ backend: 'postgres', url: TEST_PG_URL, schema, poolSize: 4 });
      stores.push(s);
      return s;
    },
    dispose: async () => {
      for (const s of stores) await s.close();
      await dropPostgresSchema(TEST_PG_URL, schema);
    },
  };
}

/** Both backends, for describe.each. */
export const BACKENDS = [
  { name: 'sqlite', open: sqliteDatabase },
  { name: 'postgres', open: postgresDatabase },
] as const;
