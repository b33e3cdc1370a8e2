import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withStatementCache } from '../../../src/storage/db.js';

interface Tables {
  items: { id: number; name: string };
}

describe('SQLite statement cache', () => {
  let dir: string;
  let database: Database.Database;
  let prepared: string[];
  const open = (size?: number) => {
    database = new Database(join(dir, 'cache.sqlite'));
    prepared = [];
    const prepare = database.prepare.bind(database);
    database.prepare = (text: string) => {
      prepared.push(text);
      return prepare(text);
    };
    return new Kysely<Tables>({
      dialect: new SqliteDialect({ database: withStatementCache(database, size) }),
    });
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'shipsync-stmt-'));
  });
  afterEach(() => {
    if (database.open) database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the same query runs with new parameters then it is compiled once and each run reads its own rows', async () => {
    const db = open();
    await sql`create table items (id integer primary key, name text not null)`.execute(db);
    for (const [id, name] of [
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ] as const)
      await db.insertInto('items').values({ id, name }).execute();
    const byId = (id: number) =>
      db.selectFrom('items').select('name').where('id', '=', id).executeTakeFirst();
    expect(await byId(2)).toEqual({ name: 'two' });
    expect(await byId(3)).toEqual({ name: 'three' });
    expect(await byId(9)).toBeUndefined();
    const inserts = prepared.filter((t) => t.startsWith('insert'));
    const selects = prepared.filter((t) => t.startsWith('select'));
    expect(inserts).toHaveLength(1);
    expect(selects).toHaveLength(1);
    await db.destroy();
  });

  it('when more texts run than the cache holds then the least recently used is compiled again', async () => {
    const db = open(2);
    await sql`create table items (id integer primary key, name text not null)`.execute(db);
    const a = () => db.selectFrom('items').select('id').execute();
    const b = () => db.selectFrom('items').select('name').execute();
    const c = () => db.selectFrom('items').selectAll().execute();
    await a();
    await b();
    await a(); // a is now the most recent; b is the oldest
    await c(); // drops b
    await a();
    await b();
    const counts = new Map<string, number>();
    for (const t of prepared) counts.set(t, (counts.get(t) ?? 0) + 1);
    expect(counts.get('select "id" from "items"')).toBe(1);
    expect(counts.get('select "name" from "items"')).toBe(2);
    await db.destroy();
  });

  it('when a streamed select is still open then the same text gets a statement of its own', async () => {
    const db = open();
    await sql`create table items (id integer primary key, name text not null)`.execute(db);
    await db
      .insertInto('items')
      .values([
        { id: 1, name: 'one' },
        { id: 2, name: 'two' },
      ])
      .execute();
    const cache = withStatementCache(database);
    const text = 'select id from items order by id';
    const first = cache.prepare(text);
    const rows = first.iterate([]);
    expect(rows.next().value).toEqual({ id: 1 });
    const second = cache.prepare(text);
    expect(second).not.toBe(first);
    expect(second.all([])).toEqual([{ id: 1 }, { id: 2 }]);
    expect(rows.next().value).toEqual({ id: 2 });
    expect(rows.next().done).toBe(true);
    expect(cache.prepare(text)).toBe(first);
    await db.destroy();
  });
});
