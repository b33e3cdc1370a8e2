import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dropPostgresSchema, openDb, type Db } from '../../../src/storage/db.js';
import { TEST_PG_URL } from './backends.js';

describe('the PostgreSQL store when the server ends a connection', () => {
  let db: Db | undefined;
  const schema = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  afterEach(async () => {
    await db?.close();
    await dropPostgresSchema(TEST_PG_URL, schema);
  });

  it('when the server ends a connection held between two queries then the next query fails and the process goes on', async () => {
    db = await openDb({ backend: 'postgres', url: TEST_PG_URL, schema, poolSize: 2 });
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    try {
      const failure = await db.kysely.connection().execute(async (conn) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn);
        const pid = rows[0]!.pid;
        // What a `pg_ctlcluster ... restart` does to every backend: "terminating connection due to administrator command".
        await admin.query('select pg_terminate_backend($1)', [pid]);
        await vi.waitFor(async () => {
          const gone = await admin.query('select 1 from pg_stat_activity where pid = $1', [pid]);
          expect(gone.rowCount).toBe(0);
        });
        return sql`select 1`.execute(conn).then(
          () => undefined,
          (err: unknown) => err,
        );
      });
      expect(String(failure)).toMatch(/terminat|Connection/i);
      // The client that met the end of its session is destroyed on release, not pooled again: the very next
      // query gets a live connection.
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db.kysely);
      expect(rows).toEqual([{ one: 1 }]);
      await db.ping();
    } finally {
      await admin.end();
    }
  });

  it('when the server ends a connection in the middle of a query then that query fails and the very next one is answered', async () => {
    // One pooled client: without discarding it, the next query could only take the dead one.
    db = await openDb({ backend: 'postgres', url: TEST_PG_URL, schema, poolSize: 1 });
    const store = db;
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    try {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(store.kysely);
      const pid = rows[0]!.pid;
      const sleeping = sql`select pg_sleep(30)`.execute(store.kysely).then(
        () => undefined,
        (err: unknown) => err,
      );
      await vi.waitFor(async () => {
        const busy = await admin.query(
          `select 1 from pg_stat_activity where pid = $1 and query like 'select pg_sleep%'`,
          [pid],
        );
        expect(busy.rowCount).toBe(1);
      });
      await admin.query('select pg_terminate_backend($1)', [pid]);
      expect(String(await sleeping)).toMatch(/terminat/i);
      const next = await sql<{ one: number }>`select 1 as one`.execute(store.kysely);
      expect(next.rows).toEqual([{ one: 1 }]);
    } finally {
      await admin.end();
    }
  });
});
