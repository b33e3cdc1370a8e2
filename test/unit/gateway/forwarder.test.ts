import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/domain/events.js';
import { backoffMs, Forwarder } from '../../../src/gateway/forwarder.js';
import { GatewayMetrics } from '../../../src/gateway/metrics.js';
import { PermanentDeliveryError, TransientDeliveryError } from '../../../src/gateway/temporal.js';
import { createLogger } from '../../../src/platform/logger.js';
import { openStore, type Store } from '../../../src/storage/store.js';

const logger = createLogger({ level: 'silent' });
const T0 = new Date('2026-12-01T08:00:00.000Z');

function arrived(n: number, shipment = 'shipment-1'): CanonicalEvent {
  return {
    specversion: '1.0',
    id: `evt-${n}`,
    source: 'test',
    subject: shipment,
    type: 'stop.arrived.v1',
    time: T0.toISOString(),
    datacontenttype: 'application/json',
    correlationid: shipment,
    data: { taskId: 't1', attempt: 1, arrivedAt: T0.toISOString() },
  };
}

describe('backoff', () => {
  it('when attempts grow then the delay doubles up to its cap and jitter stays within its share', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((a) => backoffMs(a, 500, 10_000))).toEqual([
      500, 1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
    expect(backoffMs(3, 500, 10_000, 0.2, () => 0)).toBe(1600);
    expect(backoffMs(3, 500, 10_000, 0.2, () => 1)).toBe(2400);
    expect(backoffMs(10, 500, 10_000, 0.2, () => 1)).toBe(10_000);
  });
});

describe('forwarder', () => {
  let dir: string;
  let store: Store;
  let now: Date;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shipsync-fwd-'));
    store = await openStore({ backend: 'sqlite', file: join(dir, 's.sqlite') });
    now = T0;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function accept(e: CanonicalEvent) {
    await store.inbox.insert({
      eventId: e.id,
      source: 'dispatch',
      type: e.type,
      shipmentId: e.subject,
      payload: e,
      headers: {},
      receivedAt: T0.toISOString(),
    });
  }

  function forwarder(deliver: (e: CanonicalEvent) => Promise<void>, opts = {}) {
    return new Forwarder(store, deliver, logger, undefined, {
      now: () => now,
      jitter: 0,
      baseBackoffMs: 1000,
      maxBackoffMs: 8000,
      ...opts,
    });
  }

  it('when deliveries succeed then rows of one shipment go in order and are marked delivered', async () => {
    const seen: string[] = [];
    for (const n of [1, 2, 3]) await accept(arrived(n));
    await accept(arrived(4, 'shipment-2'));
    const fwd = forwarder(async (e) => {
      seen.push(e.id);
    });
    expect(await fwd.runOnce()).toEqual({ claimed: 4, delivered: 4, retried: 0, dead: 0 });
    expect(seen.filter((id) => id !== 'evt-4')).toEqual(['evt-1', 'evt-2', 'evt-3']);
    expect(await store.inbox.counts()).toEqual({ pending: 0, delivered: 4, dead: 0 });
  });

  it('when Temporal is unavailable then the pass stops sending and every row waits for its backoff', async () => {
    for (const n of [1, 2, 3]) await accept(arrived(n, `shipment-${n}`));
    let calls = 0;
    const fwd = forwarder(
      async () => {
        calls++;
        throw Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
      },
      { concurrency: 1 },
    );
    expect(await fwd.runOnce()).toEqual({ claimed: 3, delivered: 0, retried: 3, dead: 0 });
    expect(calls).toBe(1);
    now = new Date(T0.getTime() + 999);
    expect((await fwd.runOnce()).claimed).toBe(0);
    now = new Date(T0.getTime() + 1000);
    expect((await fwd.runOnce()).claimed).toBe(3);
    expect((await store.inbox.get('evt-1'))?.nextAttemptAt).toBe(
      new Date(T0.getTime() + 1000 + 2000).toISOString(),
    );
  });

  it('when an event can never be delivered then it goes to the dead letters with its code and the rest continue', async () => {
    for (const n of [1, 2]) await accept(arrived(n));
    const fwd = forwarder(async (e) => {
      if (e.id === 'evt-1')
        throw new PermanentDeliveryError('EVENT_UNKNOWN_SHIPMENT', 'no open shipment workflow shipment-1');
    });
    expect(await fwd.runOnce()).toEqual({ claimed: 2, delivered: 1, retried: 0, dead: 1 });
    const [letter] = await store.deadLetters.list();
    expect(letter).toMatchObject({
      eventId: 'evt-1',
      code: 'EVENT_UNKNOWN_SHIPMENT',
      stage: 'delivery',
      status: 'open',
    });
  });

  it('when a stored event no longer matches its schema then it is a dead letter, not retried', async () => {
    await store.inbox.insert({
      eventId: 'old-1',
      source: 'dispatch',
      type: 'stop.arrived.v1',
      payload: { type: 'stop.arrived.v0' },
      headers: {},
      receivedAt: T0.toISOString(),
    });
    const fwd = forwarder(async () => {
      throw new Error('must not be called');
    });
    expect(await fwd.runOnce()).toMatchObject({ dead: 1 });
    expect((await store.deadLetters.list())[0]).toMatchObject({
      eventId: 'old-1',
      code: 'EVENT_SCHEMA_INVALID',
    });
  });

  it('when an event stays undeliverable past the retry age then it becomes a dead letter instead of retrying forever', async () => {
    await accept(arrived(1));
    const fwd = forwarder(
      async () => {
        throw Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
      },
      { maxRetryAgeMs: 60_000 },
    );
    await fwd.runOnce();
    now = new Date(T0.getTime() + 61_000);
    expect(await fwd.runOnce()).toMatchObject({ dead: 1 });
    expect((await store.deadLetters.list())[0]).toMatchObject({ code: 'TEMPORAL_UNAVAILABLE' });
  });

  it('when started then a notified row is delivered without waiting out the idle pause, and stop ends the loop', async () => {
    const delivered: string[] = [];
    const fwd = forwarder(
      async (e) => {
        delivered.push(e.id);
      },
      { idleMs: 60_000, now: () => new Date() },
    );
    fwd.start();
    while (fwd.passes === 0) await new Promise((r) => setTimeout(r, 5));
    await store.inbox.insert({
      eventId: 'evt-live',
      source: 'dispatch',
      type: 'stop.arrived.v1',
      payload: { ...arrived(9), id: 'evt-live' },
      headers: {},
      receivedAt: new Date().toISOString(),
    });
    fwd.notify();
    const deadline = Date.now() + 5_000;
    while (delivered.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await fwd.stop();
    expect(delivered).toEqual(['evt-live']);
    expect(fwd.started).toBe(false);
  });

  it('when an event is forwarded at commit then it is delivered with no pass, and a newer event of a shipment with an older one pending waits for the pass, in order', async () => {
    const delivered: string[] = [];
    let holdFirst: (() => void) | undefined;
    const fwd = forwarder(
      async (e) => {
        if (e.id === 'evt-1') await new Promise<void>((r) => (holdFirst = r));
        delivered.push(e.id);
      },
      { idleMs: 3_600_000, now: () => new Date() },
    );
    fwd.start();
    while (fwd.passes === 0) await new Promise((r) => setTimeout(r, 5));
    const passesAtStart = fwd.passes;
    const commit = async (n: number, shipment: string) => {
      await store.inbox.insert({
        eventId: `evt-${n}`,
        source: 'dispatch',
        type: 'stop.arrived.v1',
        shipmentId: shipment,
        payload: { ...arrived(n, shipment), id: `evt-${n}` },
        headers: {},
        receivedAt: new Date().toISOString(),
      });
      fwd.forwardNow(`evt-${n}`);
    };
    const until = async (cond: () => boolean) => {
      const deadline = Date.now() + 5_000;
      while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    };
    // evt-1 is taken at commit and held in delivery; evt-2 of the same shipment must not overtake it.
    await commit(1, 'shipment-A');
    await until(() => holdFirst !== undefined);
    expect(fwd.passes).toBe(passesAtStart);
    await commit(2, 'shipment-A');
    await commit(3, 'shipment-B');
    await until(() => delivered.includes('evt-3'));
    expect(delivered).toEqual(['evt-3']);
    holdFirst!();
    await until(() => delivered.length === 3);
    await fwd.stop();
    expect(delivered).toEqual(['evt-3', 'evt-1', 'evt-2']);
    expect((await store.inbox.get('evt-2'))?.status).toBe('delivered');
  });

  it('when no worker answers then that shipment waits behind its event, other shipments are delivered, and nothing is dead-lettered however long it takes', async () => {
    await accept(arrived(1, 'shipment-1'));
    await accept(arrived(2, 'shipment-1'));
    await accept(arrived(3, 'shipment-2'));
    const tried: string[] = [];
    let workerUp = false;
    const fwd = forwarder(
      async (e) => {
        tried.push(e.id);
        if (e.subject === 'shipment-1' && !workerUp)
          throw new TransientDeliveryError('worker', 'no worker answered');
      },
      { maxRetryAgeMs: 60_000 },
    );
    expect(await fwd.runOnce()).toEqual({ claimed: 3, delivered: 1, retried: 1, dead: 0 });
    expect(tried.sort()).toEqual(['evt-1', 'evt-3']);
    expect(await store.inbox.get('evt-2')).toMatchObject({
      status: 'pending',
      attempts: 0,
      leaseOwner: null,
    });
    now = new Date(T0.getTime() + 3600_000);
    expect(await fwd.runOnce()).toMatchObject({ dead: 0, retried: 1 });
    workerUp = true;
    now = new Date(T0.getTime() + 7200_000);
    expect(await fwd.runOnce()).toEqual({ claimed: 2, delivered: 2, retried: 0, dead: 0 });
    expect(tried.slice(-2)).toEqual(['evt-1', 'evt-2']);
    expect(await store.deadLetters.list()).toEqual([]);
  });

  it('when an event comes after its shipment closed or is about a foreign task then it is settled as late or ignored with its reason, and counted', async () => {
    await accept(arrived(1));
    await accept(arrived(2));
    await accept(arrived(3));
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    const fwd = new Forwarder(
      store,
      async (e) =>
        e.id === 'evt-2'
          ? { outcome: 'late', reason: 'shipment-1 had closed' }
          : e.id === 'evt-3'
            ? { outcome: 'ignored', reason: 'foreign task' }
            : undefined,
      logger,
      metrics,
      { now: () => now },
    );
    expect(await fwd.runOnce()).toEqual({ claimed: 3, delivered: 3, retried: 0, dead: 0 });
    expect(await store.inbox.shipmentCounts('shipment-1')).toEqual({
      pending: 0,
      forwarded: 1,
      late: 1,
      ignored: 1,
      dead: 0,
    });
    expect((await store.inbox.get('evt-2'))?.outcomeReason).toBe('shipment-1 had closed');
    const text = await metrics.registry.metrics();
    expect(text).toContain('shipsync_gateway_late_events_total{source="dispatch",type="stop.arrived.v1"} 1');
    expect(text).toContain(
      'shipsync_gateway_ignored_events_total{source="dispatch",type="stop.arrived.v1"} 1',
    );
    expect(await store.deadLetters.list()).toEqual([]);
  });

  it('when a delivery takes longer than the lease then the lease is renewed and no other gateway takes the row', async () => {
    await accept(arrived(1));
    let release: () => void = () => undefined;
    const slow = new Promise<void>((r) => (release = r));
    const started = Date.now();
    const clock = () => new Date(T0.getTime() + Date.now() - started);
    const fwd = forwarder(() => slow, { leaseMs: 300, now: clock });
    const pass = fwd.runOnce();
    await new Promise((r) => setTimeout(r, 900));
    expect(await store.inbox.claimBatch('other', 10, 300, clock())).toEqual([]);
    release();
    expect(await pass).toMatchObject({ delivered: 1 });
  });
});
