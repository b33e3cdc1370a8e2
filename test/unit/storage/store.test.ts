import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dropPostgresSchema, openDb } from '../../../src/storage/db.js';
import { migrate, migrationsFor } from '../../../src/storage/migrations.js';
import {
  InboxWriter,
  openStore,
  type NewAuditEntry,
  type NewInboxEvent,
} from '../../../src/storage/store.js';
import { BACKENDS, TEST_PG_URL, type TestDatabase } from './backends.js';

const T0 = new Date('2026-12-01T08:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function event(n: number, overrides: Partial<NewInboxEvent> = {}): NewInboxEvent {
  return {
    eventId: `evt-${n}`,
    source: 'dispatch',
    type: 'stop.arrived.v1',
    shipmentId: `shipment-${n}`,
    payload: { id: `evt-${n}`, data: { note: `payload ${n}` } },
    headers: { 'x-onfleet-signature': 'abc' },
    receivedAt: T0.toISOString(),
    ...overrides,
  };
}

describe.each(BACKENDS)('store on $name', ({ open }) => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await open();
  });
  afterEach(async () => {
    await t.dispose();
  });

  describe('inbox', () => {
    it('when the same event id is inserted twice then the second is a duplicate and one row exists', async () => {
      expect(await t.store.inbox.insert(event(1))).toBe('inserted');
      expect(await t.store.inbox.insert(event(1, { payload: { other: true } }))).toBe('duplicate');
      const rows = await t.store.inbox.list();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        eventId: 'evt-1',
        status: 'pending',
        attempts: 0,
        payload: { id: 'evt-1', data: { note: 'payload 1' } },
        headers: { 'x-onfleet-signature': 'abc' },
        receivedAt: T0.toISOString(),
      });
      expect(await t.store.inbox.backlog()).toBe(1);
    });

    it('when events are committed as a batch then each learns its own outcome, duplicates in the batch included', async () => {
      await t.store.inbox.insert(event(1));
      expect(await t.store.inbox.insertMany([event(1), event(2), event(3), event(2)])).toEqual([
        'duplicate',
        'inserted',
        'inserted',
        'duplicate',
      ]);
      expect((await t.store.inbox.list()).map((r) => r.eventId)).toEqual(['evt-1', 'evt-2', 'evt-3']);
      expect(await t.store.inbox.insertMany([])).toEqual([]);
    });

    it('when many inserts arrive at once through the group-commit writer then each resolves with its own outcome', async () => {
      const writer = new InboxWriter(t.store.inbox, 16);
      const ids = Array.from({ length: 60 }, (_, i) => i % 40);
      const outcomes = await Promise.all(ids.map((n) => writer.insert(event(n))));
      expect(outcomes.filter((o) => o === 'inserted')).toHaveLength(40);
      const firstOf = new Map<number, number>();
      ids.forEach((n, i) => firstOf.has(n) || firstOf.set(n, i));
      expect(outcomes.map((o, i) => (o === 'inserted') === (firstOf.get(ids[i]!) === i))).not.toContain(
        false,
      );
      expect(await t.store.inbox.backlog()).toBe(40);
    });

    it('when a batch is claimed then rows come oldest first, leased, with the attempt counted, and are not claimed again', async () => {
      for (let i = 1; i <= 5; i++) await t.store.inbox.insert(event(i));
      const first = await t.store.inbox.claimBatch('a', 3, 30_000, T0);
      expect(first.map((r) => r.eventId)).toEqual(['evt-1', 'evt-2', 'evt-3']);
      expect(first.every((r) => r.leaseOwner === 'a' && r.attempts === 1)).toBe(true);
      expect(first[0]!.leaseUntil).toBe(at(30_000).toISOString());
      const second = await t.store.inbox.claimBatch('b', 10, 30_000, T0);
      expect(second.map((r) => r.eventId)).toEqual(['evt-4', 'evt-5']);
      expect(await t.store.inbox.claimBatch('c', 10, 30_000, T0)).toEqual([]);
    });

    it('when a lease expires then another owner claims the row and the stale owner can no longer settle it', async () => {
      await t.store.inbox.insert(event(1));
      const [row] = await t.store.inbox.claimBatch('a', 1, 1_000, T0);
      expect(await t.store.inbox.claimBatch('b', 1, 1_000, at(500))).toEqual([]);
      const [again] = await t.store.inbox.claimBatch('b', 1, 1_000, at(1_001));
      expect(again?.attempts).toBe(2);
      expect(await t.store.inbox.markDelivered(row!.id, 'a', at(1_100))).toBe(false);
      expect(await t.store.inbox.markDelivered(row!.id, 'b', at(1_200))).toBe(true);
      const stored = await t.store.inbox.get('evt-1');
      expect(stored).toMatchObject({
        status: 'delivered',
        deliveredAt: at(1_200).toISOString(),
        leaseOwner: null,
      });
      expect(await t.store.inbox.backlog()).toBe(0);
    });

    it('when an older row of a shipment is leased, by anyone, then its newer rows wait until that row is taken over, and other shipments go on', async () => {
      const ship = (n: number, shipmentId: string) => event(n, { shipmentId });
      await t.store.inbox.insert(ship(1, 'shipment-A'));
      const [held] = await t.store.inbox.claimBatch('crashed', 10, 6_000, T0);
      expect(held?.eventId).toBe('evt-1');
      await t.store.inbox.insert(ship(2, 'shipment-A'));
      await t.store.inbox.insert(ship(3, 'shipment-B'));
      // A gateway that died holding evt-1: evt-2 must not overtake it, whoever asks and however often.
      expect((await t.store.inbox.claimBatch('next', 10, 6_000, at(100))).map((r) => r.eventId)).toEqual([
        'evt-3',
      ]);
      expect(await t.store.inbox.claimBatch('next', 10, 6_000, at(5_999))).toEqual([]);
      const takeover = await t.store.inbox.claimBatch('next', 10, 6_000, at(6_001));
      expect(takeover.map((r) => [r.eventId, r.leaseOwner])).toEqual([
        ['evt-1', 'next'],
        ['evt-2', 'next'],
      ]);
    });

    it('when an older row of a shipment waits for its retry then the newer rows of that shipment wait behind it', async () => {
      await t.store.inbox.insert(event(1, { shipmentId: 'shipment-A' }));
      const [first] = await t.store.inbox.claimBatch('a', 10, 6_000, T0);
      await t.store.inbox.markRetry(first!.id, 'a', at(2_000), 'no worker answered');
      await t.store.inbox.insert(event(2, { shipmentId: 'shipment-A' }));
      expect(await t.store.inbox.claimBatch('a', 10, 6_000, at(1_000))).toEqual([]);
      expect((await t.store.inbox.claimBatch('a', 10, 6_000, at(2_000))).map((r) => r.eventId)).toEqual([
        'evt-1',
        'evt-2',
      ]);
    });

    it('when a just-committed event is taken for delivery at once then it is leased only while nothing older of its shipment is pending', async () => {
      await t.store.inbox.insert(event(1, { shipmentId: 'shipment-A' }));
      const taken = await t.store.inbox.claimEvent('evt-1', 'gw-1', 6_000, T0);
      expect([taken?.eventId, taken?.leaseOwner, taken?.attempts]).toEqual(['evt-1', 'gw-1', 1]);
      // Leased: neither a second commit-time claim nor a pass takes it.
      expect(await t.store.inbox.claimEvent('evt-1', 'gw-2', 6_000, at(100))).toBeUndefined();
      expect(await t.store.inbox.claimBatch('gw-2', 10, 6_000, at(100))).toEqual([]);
      // A newer event of the same shipment waits behind it, leased or retrying; another shipment's goes.
      await t.store.inbox.insert(event(2, { shipmentId: 'shipment-A' }));
      await t.store.inbox.insert(event(3, { shipmentId: 'shipment-B' }));
      expect(await t.store.inbox.claimEvent('evt-2', 'gw-1', 6_000, at(200))).toBeUndefined();
      expect((await t.store.inbox.claimEvent('evt-3', 'gw-1', 6_000, at(200)))?.eventId).toBe('evt-3');
      await t.store.inbox.markRetry(taken!.id, 'gw-1', at(2_000), 'no worker answered');
      expect(await t.store.inbox.claimEvent('evt-2', 'gw-1', 6_000, at(300))).toBeUndefined();
      // Once the older one is settled the newer one can be taken; a settled row never again.
      const [retried] = await t.store.inbox.claimBatch('gw-1', 1, 6_000, at(2_000));
      expect(retried?.eventId).toBe('evt-1');
      await t.store.inbox.markDelivered(retried!.id, 'gw-1', at(2_100));
      expect((await t.store.inbox.claimEvent('evt-2', 'gw-1', 6_000, at(2_200)))?.eventId).toBe('evt-2');
      expect(await t.store.inbox.claimEvent('evt-1', 'gw-1', 6_000, at(9_000))).toBeUndefined();
      expect(await t.store.inbox.claimEvent('evt-unknown', 'gw-1', 6_000, at(9_000))).toBeUndefined();
    });

    it('when a holder renews its leases then nobody takes them over, and a released row is claimable again without an attempt counted', async () => {
      await t.store.inbox.insert(event(1));
      await t.store.inbox.insert(event(2));
      const rows = await t.store.inbox.claimBatch('a', 10, 1_000, T0);
      expect(
        await t.store.inbox.renewLeases(
          'a',
          rows.map((r) => r.id),
          1_000,
          at(900),
        ),
      ).toEqual(rows.map((r) => r.id));
      expect(
        await t.store.inbox.renewLeases(
          'b',
          rows.map((r) => r.id),
          1_000,
          at(900),
        ),
      ).toEqual([]);
      expect(await t.store.inbox.claimBatch('b', 10, 1_000, at(1_500))).toEqual([]);
      expect(await t.store.inbox.release('a', [rows[1]!.id])).toBe(1);
      const [again] = await t.store.inbox.claimBatch('b', 10, 1_000, at(1_500));
      expect(again).toMatchObject({ eventId: 'evt-2', attempts: 1, leaseOwner: 'b' });
    });

    it('when rows settle as forwarded, late or ignored then they are done, keep their reason, and the shipment counts show each', async () => {
      for (let i = 1; i <= 4; i++) await t.store.inbox.insert(event(i, { shipmentId: 'shipment-A' }));
      await t.store.inbox.insert(event(5, { shipmentId: 'shipment-B' }));
      const rows = await t.store.inbox.claimBatch('a', 10, 6_000, T0);
      expect(await t.store.inbox.forwardedBefore('shipment-A')).toBe(false);
      await t.store.inbox.markDelivered(rows[0]!.id, 'a', at(10));
      await t.store.inbox.markSettled(
        rows[1]!.id,
        'a',
        { outcome: 'late', reason: 'shipment had closed' },
        at(20),
      );
      await t.store.inbox.markSettled(
        rows[2]!.id,
        'a',
        { outcome: 'ignored', reason: 'foreign task' },
        at(30),
      );
      expect(await t.store.inbox.get('evt-2')).toMatchObject({
        status: 'delivered',
        outcome: 'late',
        outcomeReason: 'shipment had closed',
      });
      expect(await t.store.inbox.shipmentCounts('shipment-A')).toEqual({
        pending: 1,
        forwarded: 1,
        late: 1,
        ignored: 1,
        dead: 0,
      });
      expect(await t.store.inbox.forwardedBefore('shipment-A')).toBe(true);
      expect(await t.store.inbox.forwardedBefore('shipment-B')).toBe(false);
      expect(await t.store.inbox.backlog()).toBe(2);
    });

    it('when a delivery is retried then the row waits until its next attempt time and keeps the error', async () => {
      await t.store.inbox.insert(event(1));
      const [row] = await t.store.inbox.claimBatch('a', 1, 30_000, T0);
      expect(await t.store.inbox.markRetry(row!.id, 'a', at(5_000), 'UNAVAILABLE: connection refused')).toBe(
        true,
      );
      expect(await t.store.inbox.claimBatch('a', 1, 30_000, at(4_999))).toEqual([]);
      const [retried] = await t.store.inbox.claimBatch('a', 1, 30_000, at(5_000));
      expect(retried).toMatchObject({
        eventId: 'evt-1',
        attempts: 2,
        lastError: 'UNAVAILABLE: connection refused',
      });
    });

    it('when a row moves to the dead letters then it is dead, the letter holds payload and headers, and a replay requeues it once', async () => {
      await t.store.inbox.insert(event(7));
      const [row] = await t.store.inbox.claimBatch('a', 1, 30_000, T0);
      const dlId = await t.store.inbox.moveToDeadLetter(
        row!.id,
        'a',
        { code: 'EVENT_UNKNOWN_SHIPMENT', reason: 'no workflow shipment-7' },
        at(10),
      );
      expect(dlId).toBeTypeOf('number');
      expect(await t.store.inbox.get('evt-7')).toMatchObject({
        status: 'dead',
        lastError: 'EVENT_UNKNOWN_SHIPMENT: no workflow shipment-7',
      });
      expect(await t.store.inbox.backlog()).toBe(0);
      const dl = await t.store.deadLetters.get(dlId!);
      expect(dl).toMatchObject({
        source: 'dispatch',
        stage: 'delivery',
        eventId: 'evt-7',
        eventType: 'stop.arrived.v1',
        shipmentId: 'shipment-7',
        code: 'EVENT_UNKNOWN_SHIPMENT',
        status: 'open',
        headers: { 'x-onfleet-signature': 'abc' },
        createdAt: at(10).toISOString(),
      });
      expect(JSON.parse(dl!.payload)).toEqual({ id: 'evt-7', data: { note: 'payload 7' } });
      expect(await t.store.inbox.requeue('evt-7', at(20))).toBe(true);
      expect(await t.store.inbox.requeue('evt-7', at(30))).toBe(false);
      expect(await t.store.inbox.get('evt-7')).toMatchObject({ status: 'pending', attempts: 0 });
      expect(await t.store.inbox.counts()).toEqual({ pending: 1, delivered: 0, dead: 0 });
    });

    it('when the lease was lost then moving to the dead letters does nothing', async () => {
      await t.store.inbox.insert(event(1));
      const [row] = await t.store.inbox.claimBatch('a', 1, 10, T0);
      await t.store.inbox.claimBatch('b', 1, 10_000, at(20));
      expect(await t.store.inbox.moveToDeadLetter(row!.id, 'a', { code: 'X', reason: 'y' })).toBeUndefined();
      expect(await t.store.deadLetters.count('open')).toBe(0);
    });

    it('when delivered rows are purged then only older delivered rows go', async () => {
      for (let i = 1; i <= 3; i++) await t.store.inbox.insert(event(i));
      const rows = await t.store.inbox.claimBatch('a', 2, 1000, T0);
      await t.store.inbox.markDelivered(rows[0]!.id, 'a', at(1));
      await t.store.inbox.markDelivered(rows[1]!.id, 'a', at(100));
      expect(await t.store.inbox.purgeDelivered(at(50))).toBe(1);
      expect((await t.store.inbox.list()).map((r) => r.eventId)).toEqual(['evt-2', 'evt-3']);
    });
  });

  describe('dead letters', () => {
    it('when letters are replayed or discarded then each transition happens once and listing filters by status', async () => {
      const base = {
        source: 'crm' as const,
        stage: 'intake' as const,
        reason: 'bad field',
        code: 'EVENT_SCHEMA_INVALID',
        headers: { a: 'b' },
        createdAt: T0.toISOString(),
      };
      const a = await t.store.deadLetters.add({ ...base, payload: '{"broken":' });
      const b = await t.store.deadLetters.add({ ...base, payload: 'nul \u0000 inside', source: 'erp' });
      expect((await t.store.deadLetters.list()).map((d) => d.id)).toEqual([b, a]);
      expect((await t.store.deadLetters.get(a))?.payload).toBe('{"broken":');
      expect(await t.store.deadLetters.markReplayed(a, at(1))).toBe(true);
      expect(await t.store.deadLetters.markReplayed(a, at(2))).toBe(false);
      expect(await t.store.deadLetters.discard(a)).toBe(false);
      expect(await t.store.deadLetters.discard(b, at(3))).toBe(true);
      expect(await t.store.deadLetters.get(a)).toMatchObject({
        status: 'replayed',
        replayedAt: at(1).toISOString(),
      });
      expect(await t.store.deadLetters.get(b)).toMatchObject({
        status: 'discarded',
        discardedAt: at(3).toISOString(),
      });
      expect(await t.store.deadLetters.list({ status: 'open' })).toEqual([]);
      expect((await t.store.deadLetters.list({ source: 'erp' })).map((d) => d.id)).toEqual([b]);
      expect((await t.store.deadLetters.list({ beforeId: b })).map((d) => d.id)).toEqual([a]);
      expect(await t.store.deadLetters.get(9_999_999)).toBeUndefined();
    });
    it('when a vendor retries an unreadable body then one open intake letter holds it, and a new one is kept once that is settled', async () => {
      const letter = {
        source: 'dispatch' as const,
        stage: 'intake' as const,
        reason: 'r',
        code: 'EVENT_SCHEMA_INVALID',
        payload: '{"x":1}',
        headers: {},
        createdAt: T0.toISOString(),
      };
      const first = await t.store.deadLetters.add(letter);
      expect(await t.store.deadLetters.add({ ...letter, createdAt: at(30_000).toISOString() })).toBe(first);
      expect(await t.store.deadLetters.add({ ...letter, source: 'crm' })).not.toBe(first);
      expect(await t.store.deadLetters.count('open')).toBe(2);
      await t.store.deadLetters.discard(first);
      expect(await t.store.deadLetters.add(letter)).not.toBe(first);
      const delivery = { ...letter, stage: 'delivery' as const, eventId: 'e1' };
      expect(await t.store.deadLetters.add(delivery)).not.toBe(await t.store.deadLetters.add(delivery));
    });
    it('when a release pass lists a bad delivery again then one open release letter holds it, apart from an intake letter with the same body', async () => {
      const letter = {
        source: 'erp' as const,
        stage: 'release' as const,
        eventId: 'release:80000001',
        reason: 'HeaderWeightUnit: unknown weight unit',
        code: 'VALIDATION_FAILED',
        payload: '{"DeliveryDocument":"80000001"}',
        headers: {},
        createdAt: T0.toISOString(),
      };
      const first = await t.store.deadLetters.add(letter);
      expect(await t.store.deadLetters.add({ ...letter, createdAt: at(60_000).toISOString() })).toBe(first);
      expect(await t.store.deadLetters.add({ ...letter, stage: 'intake' })).not.toBe(first);
      expect((await t.store.deadLetters.get(first))?.stage).toBe('release');
    });
  });

  describe('telemetry', () => {
    it('when the batch reaches its row limit then it is written in one go and every caller is told', async () => {
      const batcher = t.store.telemetryBatcher({ maxRows: 3, maxDelayMs: 60_000 });
      const adds = [41.81, 41.82, 41.83].map((lat, i) =>
        batcher.add({ driverId: 'drv-1', lat, lng: -87.6, at: at(i * 1000).toISOString() }),
      );
      await Promise.all(adds);
      expect(batcher.size).toBe(0);
      const rows = await t.store.telemetry.list({ driverId: 'drv-1' });
      expect(rows.map((r) => r.lat)).toEqual([41.83, 41.82, 41.81]);
      await batcher.close();
    });

    it('when fewer rows than the limit wait then they are written after the delay', async () => {
      const batcher = t.store.telemetryBatcher({ maxRows: 1000, maxDelayMs: 20 });
      await batcher.add({
        driverId: 'drv-2',
        shipmentId: 'shipment-9',
        taskId: 'task-9',
        driftSeconds: -120,
        at: T0.toISOString(),
      });
      expect(await t.store.telemetry.list({ shipmentId: 'shipment-9' })).toEqual([
        {
          driverId: 'drv-2',
          shipmentId: 'shipment-9',
          taskId: 'task-9',
          driftSeconds: -120,
          at: T0.toISOString(),
        },
      ]);
      await batcher.close();
      await expect(batcher.add({ driverId: 'x', at: T0.toISOString() })).rejects.toThrow(/closed/);
    });

    it('when more rows than one statement holds are inserted then all are stored', async () => {
      const rows = Array.from({ length: 1_234 }, (_, i) => ({
        driverId: `d${i % 7}`,
        lat: 1,
        lng: 2,
        at: at(i).toISOString(),
      }));
      await t.store.telemetry.insertMany(rows);
      expect(await t.store.telemetry.count()).toBe(1_234);
    });
  });

  describe('idempotency keys', () => {
    it('when a key is stored twice then the first response wins and purging forgets old keys', async () => {
      const first = {
        key: 'k1',
        route: 'POST /v1/x',
        bodyHash: 'h1',
        statusCode: 200,
        response: { ok: 1 },
        createdAt: T0.toISOString(),
      };
      expect(await t.store.idempotency.put(first)).toEqual(first);
      const second = await t.store.idempotency.put({
        ...first,
        bodyHash: 'h2',
        statusCode: 409,
        response: { ok: 2 },
      });
      expect(second).toEqual(first);
      expect(await t.store.idempotency.get('k1')).toEqual(first);
      expect(await t.store.idempotency.get('nope')).toBeUndefined();
      expect(await t.store.idempotency.purgeBefore(at(1))).toBe(1);
      expect(await t.store.idempotency.get('k1')).toBeUndefined();
    });
  });

  describe('audit trail', () => {
    const entry = (i: number, over: Partial<NewAuditEntry> = {}): NewAuditEntry => ({
      at: at(i).toISOString(),
      principalId: i % 2 ? 'ana' : 'bob',
      principalKind: 'person',
      role: 'finance',
      action: 'charges.approve',
      method: 'POST',
      route: 'POST /v1/shipments/:id/charges/approval',
      shipmentId: `shipment-S${i % 3}`,
      idempotencyKey: `k-${i}`,
      statusCode: 200,
      outcome: 'ok',
      ...over,
    });

    it('when rows are appended then they list newest first, filtered by shipment, principal and time, and page by id', async () => {
      for (let i = 1; i <= 6; i++)
        await t.store.audit.append(entry(i, i === 6 ? { detail: { status: 'pending' } } : {}));
      const all = await t.store.audit.list();
      expect(all.map((e) => e.idempotencyKey)).toEqual(['k-6', 'k-5', 'k-4', 'k-3', 'k-2', 'k-1']);
      expect(all[0]).toMatchObject({
        principalId: 'bob',
        role: 'finance',
        statusCode: 200,
        detail: { status: 'pending' },
      });
      expect((await t.store.audit.list({ principalId: 'ana' })).map((e) => e.idempotencyKey)).toEqual([
        'k-5',
        'k-3',
        'k-1',
      ]);
      expect((await t.store.audit.list({ shipmentId: 'shipment-S0' })).length).toBe(2);
      const window = await t.store.audit.list({ from: at(2).toISOString(), to: at(4).toISOString() });
      expect(window.map((e) => e.idempotencyKey)).toEqual(['k-3', 'k-2']);
      const page1 = await t.store.audit.list({ limit: 4 });
      const page2 = await t.store.audit.list({ limit: 4, beforeId: page1.at(-1)!.id });
      expect([...page1, ...page2].map((e) => e.id)).toEqual(all.map((e) => e.id));
    });

    it('when a row is updated directly in the database then the database refuses: rows are append-only', async () => {
      const id = await t.store.audit.append(entry(1));
      await expect(
        t.store.db.kysely.updateTable('audit_log').set({ outcome: 'FORGED' }).where('id', '=', id).execute(),
      ).rejects.toThrow(/append-only/);
      expect((await t.store.audit.list())[0]?.outcome).toBe('ok');
    });

    it('when the inbox is purged then audit rows stay; only the audit retention purge removes old ones', async () => {
      await t.store.audit.append(entry(1));
      await t.store.audit.append(entry(100));
      await t.store.inbox.insert(event(1));
      const [row] = await t.store.inbox.claimBatch('a', 1, 1000, T0);
      await t.store.inbox.markDelivered(row!.id, 'a', at(1));
      expect(await t.store.inbox.purgeDelivered(at(10_000))).toBe(1);
      expect(await t.store.idempotency.purgeBefore(at(10_000))).toBe(0);
      expect((await t.store.audit.list()).length).toBe(2);
      expect(await t.store.audit.purgeBefore(at(50))).toBe(1);
      expect((await t.store.audit.list()).map((e) => e.idempotencyKey)).toEqual(['k-100']);
    });
  });

  it('when migrations run again on a migrated database then nothing is applied twice', async () => {
    expect(await migrate(t.store.db)).toEqual([]);
    expect(await migrate(t.store.db)).toEqual([]);
    const other = await t.openAnother();
    await other.inbox.insert(event(1));
    expect(await t.store.inbox.backlog()).toBe(1);
    await t.store.ping();
  });
});

describe('store on postgres shared by two gateways', () => {
  it('when two gateways claim and settle one inbox concurrently then every shipment sees its events in receipt order', async () => {
    const { postgresDatabase } = await import('./backends.js');
    const t = await postgresDatabase();
    try {
      const other = await t.openAnother();
      const total = 240;
      const shipments = 6;
      for (let i = 0; i < total; i += 40) {
        await t.store.inbox.insertMany(
          Array.from({ length: 40 }, (_, j) =>
            event(i + j, { shipmentId: `shipment-${(i + j) % shipments}` }),
          ),
        );
      }
      const seen = new Map<string, number[]>();
      const gateway = async (owner: string, store: typeof t.store) => {
        for (let idle = 0; idle < 20;) {
          const rows = await store.inbox.claimBatch(owner, 9, 60_000, T0);
          if (rows.length === 0) {
            idle++;
            await new Promise((r) => setTimeout(r, 5));
            continue;
          }
          idle = 0;
          for (const row of rows) {
            seen.set(row.shipmentId!, [...(seen.get(row.shipmentId!) ?? []), row.id]);
            expect(await store.inbox.markDelivered(row.id, owner, T0)).toBe(true);
          }
        }
      };
      await Promise.all([
        gateway('a1', t.store),
        gateway('a2', t.store),
        gateway('b1', other),
        gateway('b2', other),
      ]);
      expect([...seen.values()].flat()).toHaveLength(total);
      for (const ids of seen.values()) expect(ids).toEqual([...ids].sort((x, y) => x - y));
    } finally {
      await t.dispose();
    }
  });

  it('when two stores claim concurrently from one inbox then every row is claimed exactly once', async () => {
    const { postgresDatabase } = await import('./backends.js');
    const t = await postgresDatabase();
    try {
      const other = await t.openAnother();
      const total = 400;
      for (let i = 0; i < total; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, j) => t.store.inbox.insert(event(i + j))));
      }
      const claimed: Record<string, string[]> = { a: [], b: [] };
      const worker = async (owner: 'a' | 'b', store: typeof t.store) => {
        for (;;) {
          const rows = await store.inbox.claimBatch(owner, 7, 60_000, T0);
          if (rows.length === 0) return;
          claimed[owner]!.push(...rows.map((r) => r.eventId));
        }
      };
      await Promise.all([worker('a', t.store), worker('a', t.store), worker('b', other), worker('b', other)]);
      const all = [...claimed.a!, ...claimed.b!];
      expect(new Set(all).size).toBe(all.length);
      expect(all).toHaveLength(total);
      expect(claimed.a!.length).toBeGreaterThan(0);
      expect(claimed.b!.length).toBeGreaterThan(0);
    } finally {
      await t.dispose();
    }
  });
});

describe.each(['sqlite', 'postgres'] as const)(
  'a %s store made before kysely tracked its migrations',
  (backend) => {
    it('when a gateway of this version opens it then the later migrations apply and the rows stay', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'shipsync-legacy-'));
      const schema = `t_legacy_${Date.now().toString(36)}`;
      const target =
        backend === 'sqlite'
          ? { backend, file: join(dir, 'gateway.sqlite') }
          : { backend, url: TEST_PG_URL, schema, poolSize: 2 };
      try {
        // The tables as the hand-written migrator left them: its first migration and its own ledger.
        const legacy = await openDb(target);
        const first = migrationsFor(backend)['0001_inbox_dead_letters_telemetry_idempotency']!;
        await first.up(legacy.kysely);
        await sql`create table shipsync_migrations (version integer primary key, name text not null, applied_at text not null)`.execute(
          legacy.kysely,
        );
        await sql`insert into shipsync_migrations values (1, 'inbox, dead letters, telemetry, idempotency keys', ${T0.toISOString()})`.execute(
          legacy.kysely,
        );
        await legacy.kysely
          .insertInto('inbox')
          .values({
            event_id: 'evt-old',
            source: 'dispatch',
            type: 'stop.arrived.v1',
            shipment_id: 'shipment-OLD',
            payload: '{}',
            headers: '{}',
            received_at: T0.toISOString(),
            next_attempt_at: T0.toISOString(),
          })
          .execute();
        await legacy.kysely
          .insertInto('dead_letters')
          .values({
            source: 'erp',
            stage: 'intake',
            reason: 'old',
            code: 'EVENT_SCHEMA_INVALID',
            payload: '{}',
            payload_hash: 'h-old',
            headers: '{}',
            created_at: T0.toISOString(),
          })
          .execute();
        await legacy.close();

        const store = await openStore(target);
        try {
          expect(await migrate(store.db)).toEqual([]);
          expect(await store.inbox.get('evt-old')).toMatchObject({ status: 'pending', outcome: null });
          const [row] = await store.inbox.claimBatch('a', 1, 6_000, T0);
          expect(await store.inbox.markSettled(row!.id, 'a', { outcome: 'late', reason: 'closed' }, T0)).toBe(
            true,
          );
          expect(await store.inbox.shipmentCounts('shipment-OLD')).toMatchObject({ late: 1 });
          // The dead letters kept their rows and now take the release stage.
          expect((await store.deadLetters.list()).map((d) => d.reason)).toEqual(['old']);
          const release = await store.deadLetters.add({
            source: 'erp',
            stage: 'release',
            eventId: 'release:1',
            reason: 'bad',
            code: 'VALIDATION_FAILED',
            payload: '{"DeliveryDocument":"1"}',
            headers: {},
            createdAt: T0.toISOString(),
          });
          expect((await store.deadLetters.get(release))?.stage).toBe('release');
          const applied = await sql<{
            name: string;
          }>`select name from kysely_migration order by name`.execute(store.db.kysely);
          expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrationsFor(backend)));
        } finally {
          await store.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
        if (backend === 'postgres') await dropPostgresSchema(TEST_PG_URL, schema);
      }
    });
  },
);
