import type { Client } from '@temporalio/client';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/app.js';
import { type Store } from '../../src/storage/store.js';
import { uniqueId } from '../support/temporal.js';
import {
  asRole,
  erpPush,
  eventually,
  onfleetPayload,
  receivedIds,
  signedCrm,
  signedDispatch,
  startTestShipment,
  testConfig,
  testGateway,
  testOrder,
  zendeskRescheduleBody,
  gatewayFixture,
  type GatewayFixture,
} from './support.js';
import { appliedUpdatesQuery, finishSignal } from './workflows/shipment.js';

const prefix = `gw${uniqueId().toLowerCase().slice(-8)}-`;
const config = testConfig({ SHIPSYNC_TASK_QUEUE_PREFIX: prefix });
const taskQueue = `${prefix}shipments`;

let client: Client;
let store: Store;
let gateway: Gateway;
let fixture: GatewayFixture | undefined;
const started: string[] = [];

beforeAll(async () => {
  fixture = await gatewayFixture({ name: 'gw', taskQueue, config });
  ({ client, store, gateway } = fixture);
});

afterAll(async () => {
  await fixture?.close(started);
});

async function shipment() {
  const id = await startTestShipment(client, taskQueue);
  started.push(id);
  return id;
}

function postDispatch(payload: unknown) {
  const req = signedDispatch(config, payload);
  return gateway.inject({
    method: 'POST',
    url: '/webhooks/dispatch',
    payload: req.body,
    headers: req.headers,
  });
}

describe('dispatch webhooks', () => {
  it('when a signed webhook arrives then it is committed before the 2xx and signalled to its shipment once', async () => {
    const shipmentId = await shipment();
    const res = await postDispatch(onfleetPayload({ shipmentId, trigger: 'taskArrival' }));
    expect(res.statusCode).toBe(200);
    const body = res.json<{ accepted: boolean; duplicate: boolean; eventId: string }>();
    expect(body).toMatchObject({ accepted: true, duplicate: false });
    expect((await store.inbox.get(body.eventId))?.status).toBe('pending');
    expect(await gateway.forwarder.drain()).toBe(0);
    expect(await receivedIds(client, shipmentId)).toEqual([body.eventId]);
    expect((await store.inbox.get(body.eventId))?.status).toBe('delivered');
  });

  it('when every event arrives three times in shuffled order then each is stored and delivered once', async () => {
    const shipmentIds = [await shipment(), await shipment()];
    const t0 = Date.now();
    const payloads = shipmentIds.flatMap((shipmentId) =>
      ['taskAssigned', 'taskArrival', 'taskCompleted'].map((trigger, i) =>
        onfleetPayload({ shipmentId, trigger, time: t0 + i * 1000, eta: t0 + 3600_000 }),
      ),
    );
    const copies = payloads.flatMap((p) => [p, p, p]);
    for (let i = copies.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [copies[i], copies[j]] = [copies[j]!, copies[i]!];
    }
    const responses = await Promise.all(copies.map((p) => postDispatch(p)));
    expect(responses.map((r) => r.statusCode).filter((s) => s !== 200)).toEqual([]);
    const bodies = responses.map((r) => r.json<{ eventId: string; duplicate: boolean }>());
    const firsts = bodies.filter((b) => !b.duplicate).map((b) => b.eventId);
    expect(new Set(firsts).size).toBe(firsts.length);
    expect(firsts).toHaveLength(payloads.length);
    await gateway.forwarder.drain();
    for (const shipmentId of shipmentIds) {
      const ids = await receivedIds(client, shipmentId);
      expect(ids).toHaveLength(3);
      expect(new Set(ids).size).toBe(3);
      expect((await store.inbox.list({ shipmentId })).map((r) => r.status)).toEqual([
        'delivered',
        'delivered',
        'delivered',
      ]);
    }
  });

  it('when a delivered event is delivered again (a crash before its row was marked) then the shipment still sees it once', async () => {
    const shipmentId = await shipment();
    const res = await postDispatch(onfleetPayload({ shipmentId, trigger: 'taskStarted' }));
    const { eventId } = res.json<{ eventId: string }>();
    await gateway.forwarder.drain();
    await sql`update inbox set status = 'pending', delivered_at = null where event_id = ${eventId}`.execute(
      store.db.kysely,
    );
    expect(await gateway.forwarder.drain()).toBe(0);
    expect((await store.inbox.get(eventId))?.attempts).toBe(2);
    expect(await receivedIds(client, shipmentId)).toEqual([eventId]);
  });

  it('when Onfleet validates the endpoint then the check value is echoed as text', async () => {
    const res = await gateway.inject({ method: 'GET', url: '/webhooks/dispatch?check=c0ffee42' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toBe('c0ffee42');
    expect((await gateway.inject({ method: 'GET', url: '/webhooks/dispatch' })).json()).toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'querystring.check',
    });
  });

  it('when an ETA moves a little then it is telemetry, and when it moves past the threshold then it is a milestone', async () => {
    const shipmentId = await shipment();
    const now = Date.now();
    const small = await postDispatch(
      onfleetPayload({
        shipmentId,
        trigger: 'taskEta',
        time: now,
        completeBefore: now + 3600_000,
        eta: now + 3600_000 + 120_000,
      }),
    );
    expect(small.statusCode).toBe(200);
    expect(small.json()).toEqual({ accepted: true, telemetry: true });
    await gateway.telemetry.flush();
    expect(await store.telemetry.list({ driverId: 'wrk-1', limit: 1 })).toEqual([
      {
        driverId: 'wrk-1',
        shipmentId,
        taskId: expect.any(String),
        lat: 41.88,
        lng: -87.64,
        driftSeconds: 120,
        at: new Date(now).toISOString(),
      },
    ]);
    expect(await store.inbox.list({ shipmentId })).toEqual([]);
    const large = await postDispatch(
      onfleetPayload({
        shipmentId,
        trigger: 'taskEta',
        time: now + 1,
        completeBefore: now + 3600_000,
        eta: now + 3600_000 + 25 * 60_000,
      }),
    );
    expect(large.json()).toMatchObject({ accepted: true, duplicate: false });
    await gateway.forwarder.drain();
    const rows = await store.inbox.list({ shipmentId });
    expect(rows.map((r) => [r.type, r.status])).toEqual([['stop.eta.v1', 'delivered']]);
    expect(await receivedIds(client, shipmentId)).toEqual([rows[0]!.eventId]);
  });

  it('when an event arrives after its shipment closed then it is answered 200 and kept as late, counted in the status and the metrics, and is no dead letter', async () => {
    const shipmentId = await shipment();
    const t0 = Date.now();
    const first = await postDispatch(onfleetPayload({ shipmentId, trigger: 'taskCompleted', time: t0 }));
    await gateway.forwarder.drain();
    await client.workflow.getHandle(shipmentId).signal(finishSignal);
    await client.workflow.getHandle(shipmentId).result();
    const late = await postDispatch(onfleetPayload({ shipmentId, trigger: 'taskArrival', time: t0 + 1000 }));
    expect(late.statusCode).toBe(200);
    const lateId = late.json<{ eventId: string }>().eventId;
    expect(await gateway.forwarder.drain()).toBe(0);
    expect(await store.inbox.get(lateId)).toMatchObject({
      status: 'delivered',
      outcome: 'late',
      outcomeReason: expect.stringMatching(/had closed \(completed at .*\) before this event/),
    });
    expect((await store.deadLetters.list()).filter((l) => l.shipmentId === shipmentId)).toEqual([]);
    const status = await gateway.inject({
      method: 'GET',
      url: `/v1/shipments/${shipmentId}`,
      headers: asRole('agent'),
    });
    expect(status.json()).toMatchObject({
      inbox: { forwarded: 1, late: 1, ignored: 0, dead: 0, pending: 0 },
    });
    expect(await receivedIds(client, shipmentId)).toEqual([first.json<{ eventId: string }>().eventId]);
    const metrics = await gateway.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(
      /shipsync_gateway_late_events_total\{source="dispatch",type="stop.arrived.v1"\} [1-9]/,
    );
  });

  it('when an event names a shipment that does not exist then it becomes a dead letter, and a replay after the shipment starts delivers it once', async () => {
    const order = testOrder();
    const shipmentId = `shipment-${order.deliveryId}`;
    const res = await postDispatch(onfleetPayload({ shipmentId, trigger: 'taskArrival' }));
    const { eventId } = res.json<{ eventId: string }>();
    await gateway.forwarder.drain();
    expect((await store.inbox.get(eventId))?.status).toBe('dead');
    const [letter] = await store.deadLetters
      .list({ status: 'open', source: 'dispatch' })
      .then((l) => l.filter((x) => x.eventId === eventId));
    expect(letter).toMatchObject({
      stage: 'delivery',
      code: 'EVENT_UNKNOWN_SHIPMENT',
      reason: `no shipment workflow ${shipmentId} has ever run`,
      shipmentId,
      eventType: 'stop.arrived.v1',
    });
    expect(letter!.headers['x-onfleet-signature']).toMatch(/^[0-9a-f]{128}$/);
    expect(JSON.parse(letter!.payload)).toMatchObject({ id: eventId, subject: shipmentId });

    started.push(await startTestShipment(client, taskQueue, order));
    const replay = (key: string) =>
      gateway.inject({
        method: 'POST',
        url: `/v1/dead-letters/${letter!.id}/replay`,
        headers: { ...asRole('admin'), 'idempotency-key': key },
      });
    const first = await replay(uniqueId('k'));
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ id: letter!.id, status: 'replayed', outcome: 'requeued', eventId });
    const second = await replay(uniqueId('k'));
    expect(second.json()).toMatchObject({ status: 'replayed', outcome: 'already_replayed' });
    await gateway.forwarder.drain();
    expect(await receivedIds(client, shipmentId)).toEqual([eventId]);
  });

  it('when a signed body cannot be read then it is refused with the field and kept as an intake dead letter', async () => {
    const payload = onfleetPayload({ shipmentId: 'shipment-X1', trigger: 'taskArrival' });
    delete (payload.data as { task: { metadata?: unknown } }).task.metadata;
    (payload.data as { task: Record<string, unknown> }).task.metadata = [
      { name: 'attempt', type: 'number', value: 1 },
    ];
    const res = await postDispatch(payload);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'EVENT_SCHEMA_INVALID',
      field: 'data.task.metadata.shipmentId',
    });
    const [letter] = await store.deadLetters.list({ status: 'open', source: 'dispatch', limit: 1 });
    expect(letter).toMatchObject({ stage: 'intake', code: 'EVENT_SCHEMA_INVALID', eventId: null });
    expect(JSON.parse(letter!.payload)).toEqual(payload);
    const replay = await gateway.inject({
      method: 'POST',
      url: `/v1/dead-letters/${letter!.id}/replay`,
      headers: { ...asRole('admin'), 'idempotency-key': uniqueId('k') },
    });
    expect(replay.statusCode).toBe(400);
    expect(replay.json()).toMatchObject({ code: 'EVENT_SCHEMA_INVALID' });
    expect((await store.deadLetters.get(letter!.id))?.status).toBe('open');
  });

  it('when a mapper trips over an extreme value it did not expect then the answer is still a 400 and the body is kept', async () => {
    const res = await postDispatch(
      onfleetPayload({ shipmentId: 'shipment-X3', trigger: 'taskArrival', time: 9e15 }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'EVENT_SCHEMA_INVALID' });
    const [letter] = await store.deadLetters.list({ status: 'open', source: 'dispatch', limit: 1 });
    expect(JSON.parse(letter!.payload)).toMatchObject({ time: 9e15 });
  });
});

describe('CRM webhooks', () => {
  it('when a customer asks for another slot then the reschedule update runs once, and a redelivery is a duplicate', async () => {
    const shipmentId = await shipment();
    const start = Date.now() + 3 * 24 * 3600_000;
    const window = {
      start: new Date(start).toISOString(),
      end: new Date(start + 2 * 3600_000).toISOString(),
    };
    const payload = zendeskRescheduleBody(shipmentId, window);
    const first = await gateway.inject({
      method: 'POST',
      url: '/webhooks/crm',
      ...withPayload(signedCrm(config, payload)),
    });
    expect(first.statusCode).toBe(200);
    const again = await gateway.inject({
      method: 'POST',
      url: '/webhooks/crm',
      ...withPayload(signedCrm(config, payload)),
    });
    expect(again.json()).toMatchObject({
      accepted: true,
      duplicate: true,
      eventId: first.json<{ eventId: string }>().eventId,
    });
    await gateway.forwarder.drain();
    expect(await client.workflow.getHandle(shipmentId).query(appliedUpdatesQuery)).toEqual([
      `reschedule:${window.start}`,
    ]);
  });

  it('when the signature timestamp is older than the tolerance then the webhook is refused as stale', async () => {
    const payload = zendeskRescheduleBody('shipment-X2', {
      start: '2026-12-02T10:00:00Z',
      end: '2026-12-02T12:00:00Z',
    });
    const res = await gateway.inject({
      method: 'POST',
      url: '/webhooks/crm',
      ...withPayload(signedCrm(config, payload, new Date(Date.now() - 6 * 60_000).toISOString())),
    });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'SIGNATURE_STALE' });
  });

  it('when the shipment refuses the reschedule then the event is a dead letter with the refusal code', async () => {
    const shipmentId = await shipment();
    await postDispatch(onfleetPayload({ shipmentId, trigger: 'taskStarted' }));
    await gateway.forwarder.drain();
    const start = Date.now() + 3 * 24 * 3600_000;
    const payload = zendeskRescheduleBody(shipmentId, {
      start: new Date(start).toISOString(),
      end: new Date(start + 3600_000).toISOString(),
    });
    const res = await gateway.inject({
      method: 'POST',
      url: '/webhooks/crm',
      ...withPayload(signedCrm(config, payload)),
    });
    const { eventId } = res.json<{ eventId: string }>();
    await gateway.forwarder.drain();
    const letters = (await store.deadLetters.list({ source: 'crm' })).filter((l) => l.eventId === eventId);
    expect(letters.map((l) => [l.code, l.stage, l.status])).toEqual([
      ['RESCHEDULE_TOO_LATE', 'delivery', 'open'],
    ]);
  });
});

describe('ERP release push', () => {
  it('when a delivery is released then its shipment starts once, and a repeated push is a duplicate', async () => {
    const order = testOrder();
    const push = erpPush(config, order);
    const res = await gateway.inject({ method: 'POST', url: '/webhooks/erp/releases', ...withPayload(push) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      accepted: true,
      duplicate: false,
      eventId: `erp-release-${order.deliveryId}`,
    });
    const repeat = await gateway.inject({
      method: 'POST',
      url: '/webhooks/erp/releases',
      ...withPayload(push),
    });
    expect(repeat.json()).toMatchObject({ duplicate: true });
    await gateway.forwarder.drain();
    const shipmentId = `shipment-${order.deliveryId}`;
    started.push(shipmentId);
    const described = await client.workflow.getHandle(shipmentId).describe();
    expect(described.type).toBe('ShipmentWorkflow');
    expect(described.taskQueue).toBe(taskQueue);
    expect(
      await eventually(
        async () => (await client.workflow.getHandle(shipmentId).query(appliedUpdatesQuery)) ?? undefined,
      ),
    ).toEqual([]);
  });

  it('when the bearer token is wrong then the push is refused and nothing is stored', async () => {
    const order = testOrder();
    const push = erpPush(config, order);
    const res = await gateway.inject({
      method: 'POST',
      url: '/webhooks/erp/releases',
      payload: push.body,
      headers: { ...push.headers, authorization: 'Bearer nope-nope' },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await store.inbox.get(`erp-release-${order.deliveryId}`)).toBeUndefined();
  });
});

describe('inbox backlog limit', () => {
  it('when the backlog passes its limit then webhooks get 429 with Retry-After until it drains', async () => {
    const shipmentId = await shipment();
    const limited = await testGateway({ client, store, config, backlogLimit: 1 });
    try {
      await limited.forwarder.refreshBacklog();
      expect(limited.forwarder.backlog).toBe(0);
      const send = (time: number) => {
        const req = signedDispatch(config, onfleetPayload({ shipmentId, trigger: 'taskArrival', time }));
        return limited.inject({
          method: 'POST',
          url: '/webhooks/dispatch',
          payload: req.body,
          headers: req.headers,
        });
      };
      const t = Date.now();
      expect((await send(t)).statusCode).toBe(200);
      const refused = await send(t + 1);
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe('30');
      expect(refused.json()).toMatchObject({ code: 'INBOX_BACKLOG_FULL', eventId: expect.any(String) });
      await limited.forwarder.drain();
      expect((await send(t + 2)).statusCode).toBe(200);
      await limited.forwarder.drain();
    } finally {
      await limited.close();
    }
  });
});

function withPayload(req: { body: string; headers: Record<string, string> }) {
  return { payload: req.body, headers: req.headers };
}
