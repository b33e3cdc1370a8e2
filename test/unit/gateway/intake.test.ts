import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEvent } from '../../../src/domain/events.js';
import type { MappedWebhook, WebhookDialect } from '../../../src/gateway/dialects.js';
import { GatewayError } from '../../../src/gateway/errors.js';
import { Forwarder } from '../../../src/gateway/forwarder.js';
import { Intake } from '../../../src/gateway/intake.js';
import { GatewayMetrics } from '../../../src/gateway/metrics.js';
import { createLogger } from '../../../src/platform/logger.js';
import { InboxWriter } from '../../../src/storage/inbox.js';
import { openStore, type Store } from '../../../src/storage/store.js';
import { TelemetryBatcher } from '../../../src/storage/telemetry.js';

const logger = createLogger({ level: 'silent' });
const T0 = new Date('2026-12-03T08:00:00.000Z');

/** A stop.arrived.v1 envelope as a mapper would build it. */
function arrival(id: string) {
  return {
    specversion: '1.0',
    id,
    source: 'dispatch/onfleet',
    subject: 'shipment-INTAKE1',
    type: 'stop.arrived.v1',
    time: T0.toISOString(),
    datacontenttype: 'application/json',
    correlationid: 'shipment-INTAKE1',
    data: { taskId: 'task-1', attempt: 1, arrivedAt: T0.toISOString() },
  };
}

/** A dialect that trusts every sender and maps every body with `map`. */
function dialect(map: () => MappedWebhook): WebhookDialect {
  return { source: 'dispatch', authenticate: () => ({ ok: true }), map };
}

describe('intake: the envelope check of a mapped event', () => {
  let dir: string;
  let store: Store;
  let intake: Intake;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shipsync-intake-'));
    store = await openStore({ backend: 'sqlite', file: join(dir, 's.sqlite') });
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    intake = new Intake({
      store,
      inbox: new InboxWriter(store.inbox),
      telemetry: new TelemetryBatcher(store.telemetry),
      forwarder: new Forwarder(store, async () => {}, logger, metrics),
      metrics,
      logger,
      now: () => T0,
      backlogLimit: 1000,
    });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = (d: WebhookDialect) => intake.accept(d, { headers: {}, rawBody: Buffer.from('{"any":1}') });

  it('when a mapper returns the parse of its event then the event is committed as parsed', async () => {
    const res = await send(dialect(() => ({ kind: 'event', event: parseEvent(arrival('evt-parsed')) })));
    expect(res).toEqual({ status: 200, body: { accepted: true, duplicate: false, eventId: 'evt-parsed' } });
    expect((await store.inbox.get('evt-parsed'))?.payload).toMatchObject({ type: 'stop.arrived.v1' });
  });

  it('when a mapper builds an event that breaks the envelope then it is refused and kept as a dead letter', async () => {
    const broken = { ...arrival('evt-broken'), data: { taskId: 'task-1', attempt: 1 } };
    const err = await send(dialect(() => ({ kind: 'event', event: broken as never }))).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'EVENT_SCHEMA_INVALID', extra: { field: 'data.arrivedAt' } });
    expect(await store.inbox.get('evt-broken')).toBeUndefined();
    expect(await store.deadLetters.count()).toBe(1);
  });

  it('when a mapper changes a copy of a parsed event then the copy is checked again', async () => {
    const copy = { ...parseEvent(arrival('evt-copy')), time: 'yesterday' };
    const err = await send(dialect(() => ({ kind: 'event', event: copy as never }))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EVENT_SCHEMA_INVALID', extra: { field: 'time' } });
    expect(await store.inbox.get('evt-copy')).toBeUndefined();
  });
});
