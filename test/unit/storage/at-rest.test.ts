import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PayloadKeyring, PayloadKeyUnknownError } from '../../../src/platform/codec.js';
import { dropPostgresSchema } from '../../../src/storage/db.js';
import { openStore, type DatabaseTarget, type Store } from '../../../src/storage/store.js';
import { TEST_PG_URL } from './backends.js';

const key = () => randomBytes(32);
const k1 = { id: 'k1', key: key() };
const k2 = { id: 'k2', key: key() };
const ring = (...keys: { id: string; key: Buffer }[]) => new PayloadKeyring(keys);
const T0 = '2026-12-01T08:00:00.000Z';
const daysBefore = (days: number) => new Date(Date.parse(T0) - days * 24 * 3600_000).toISOString();

/** A fresh database target of one backend, and how to drop it. */
const TARGETS = [
  {
    name: 'sqlite',
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), 'shipsync-at-rest-'));
      const target: DatabaseTarget = { backend: 'sqlite', file: join(dir, 'store.sqlite') };
      return { target, drop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    make: () => {
      const schema = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
      const target: DatabaseTarget = { backend: 'postgres', url: TEST_PG_URL, schema, poolSize: 2 };
      return { target, drop: () => dropPostgresSchema(TEST_PG_URL, schema) };
    },
  },
] as const;

const order = { recipient: { name: 'Dana Whitfield', phone: '+1 312 555 0142' }, street: '233 S Wacker Dr' };

describe.each(TARGETS)('personal data at rest on $name', ({ make }) => {
  const opened: Store[] = [];
  let target: DatabaseTarget;
  let drop: () => Promise<void>;
  beforeEach(() => {
    ({ target, drop } = make());
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await drop();
  });
  /** A store on this test's database, as a gateway process with (or without) a keyring opens it. */
  async function open(keyring?: PayloadKeyring) {
    const s = await openStore(target, keyring ? { keyring } : {});
    opened.push(s);
    return s;
  }

  it('when a keyring is set then inbox, dead-letter and telemetry rows hold no name, phone, street or position in clear, and read back whole', async () => {
    const store = await open(ring(k1));
    await store.inbox.insert({
      eventId: 'evt-1',
      source: 'erp',
      type: 'shipment.released.v1',
      shipmentId: 'shipment-1',
      payload: order,
      headers: { 'x-request-id': 'r1' },
      receivedAt: T0,
    });
    const letter = await store.deadLetters.add({
      source: 'crm',
      stage: 'intake',
      reason: 'ticket: expected an object',
      code: 'EVENT_SCHEMA_INVALID',
      payload: JSON.stringify(order),
      headers: { 'content-type': 'application/json' },
      createdAt: T0,
    });
    await store.telemetry.insertMany([
      { driverId: 'drv-1', lat: 41.8781, lng: -87.6298, driftSeconds: 42, at: T0 },
    ]);

    const raw = JSON.stringify([
      (await sql`select payload, headers from inbox`.execute(store.db.kysely)).rows,
      (await sql`select payload, headers from dead_letters`.execute(store.db.kysely)).rows,
      (await sql`select lat, lng, drift_seconds, sealed from telemetry_positions`.execute(store.db.kysely))
        .rows,
    ]);
    for (const secret of ['Dana', '555 0142', 'Wacker', '41.8781', 'x-request-id'])
      expect(raw).not.toContain(secret);
    expect(raw).toContain('enc:v1:k1:');

    expect((await store.inbox.get('evt-1'))?.payload).toEqual(order);
    expect((await store.inbox.get('evt-1'))?.headers).toEqual({ 'x-request-id': 'r1' });
    expect(JSON.parse((await store.deadLetters.get(letter))!.payload)).toEqual(order);
    expect(await store.telemetry.list()).toEqual([
      { driverId: 'drv-1', lat: 41.8781, lng: -87.6298, driftSeconds: 42, at: T0 },
    ]);
    // One body is still kept once while its letter is open: the duplicate check sees through the encryption.
    expect(
      await store.deadLetters.add({
        source: 'crm',
        stage: 'intake',
        reason: 'again',
        code: 'EVENT_SCHEMA_INVALID',
        payload: JSON.stringify(order),
        headers: {},
        createdAt: T0,
      }),
    ).toBe(letter);
  });

  it('when the key rotates then rows under the old key still read, new rows take the new key, and a store without the old key names it', async () => {
    const before = await open(ring(k1));
    await before.inbox.insert({
      eventId: 'evt-old',
      source: 'dispatch',
      type: 't',
      payload: order,
      headers: {},
      receivedAt: T0,
    });
    const plain = await open();
    const rotated = await open(ring(k2, k1));
    await rotated.inbox.insert({
      eventId: 'evt-new',
      source: 'dispatch',
      type: 't',
      payload: order,
      headers: {},
      receivedAt: T0,
    });
    expect((await rotated.inbox.get('evt-old'))?.payload).toEqual(order);
    const rows = (
      await sql<{
        event_id: string;
        payload: string;
      }>`select event_id, payload from inbox order by id`.execute(rotated.db.kysely)
    ).rows;
    expect(rows.map((r) => r.payload.slice(0, 10))).toEqual(['enc:v1:k1:', 'enc:v1:k2:']);
    const newOnly = await open(ring(k2));
    await expect(newOnly.inbox.get('evt-old')).rejects.toThrow(PayloadKeyUnknownError);
    await expect(plain.inbox.get('evt-new')).rejects.toThrow(/key id "k2"/);
  });

  it('when no keyring is set then rows stay as before, and a store opened later with a key still reads them', async () => {
    const plain = await open();
    await plain.inbox.insert({
      eventId: 'evt-p',
      source: 'dispatch',
      type: 't',
      payload: order,
      headers: {},
      receivedAt: T0,
    });
    await plain.telemetry.insertMany([{ driverId: 'drv-1', lat: 1.5, lng: 2.5, at: T0 }]);
    const raw = (await sql<{ payload: string }>`select payload from inbox`.execute(plain.db.kysely)).rows[0]!;
    expect(raw.payload).toContain('Dana');
    const keyed = await open(ring(k1));
    expect((await keyed.inbox.get('evt-p'))?.payload).toEqual(order);
    expect(await keyed.telemetry.list()).toEqual([{ driverId: 'drv-1', lat: 1.5, lng: 2.5, at: T0 }]);
  });

  it('when the retention purges run then old telemetry and settled dead letters go, open letters and recent rows stay', async () => {
    const store = await open(ring(k1));
    await store.telemetry.insertMany([
      { driverId: 'old', lat: 1, lng: 1, at: daysBefore(40) },
      { driverId: 'new', lat: 1, lng: 1, at: daysBefore(1) },
    ]);
    expect(await store.telemetry.purgeBefore(new Date(daysBefore(30)))).toBe(1);
    expect((await store.telemetry.list()).map((t) => t.driverId)).toEqual(['new']);

    const letter = (n: number) =>
      store.deadLetters.add({
        source: 'erp',
        stage: 'intake',
        reason: 'r',
        code: 'EVENT_SCHEMA_INVALID',
        payload: `{"n":${n}}`,
        headers: {},
        createdAt: daysBefore(200),
      });
    const [replayedOld, discardedOld, openOld, discardedNew] = [
      await letter(1),
      await letter(2),
      await letter(3),
      await letter(4),
    ];
    await store.deadLetters.markReplayed(replayedOld, new Date(daysBefore(100)));
    await store.deadLetters.discard(discardedOld, new Date(daysBefore(95)));
    await store.deadLetters.discard(discardedNew, new Date(daysBefore(5)));
    expect(await store.deadLetters.purgeSettledBefore(new Date(daysBefore(90)))).toBe(2);
    expect((await store.deadLetters.list()).map((d) => d.id).sort()).toEqual([openOld, discardedNew].sort());
  });
});
