import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/app.js';
import { type Store } from '../../src/storage/store.js';
import { dispatchEventSignal } from '../../src/workflows/shipment/contract.js';
import { uniqueId, uniqueTaskQueue } from '../support/temporal.js';
import {
  asRole,
  eventually,
  onfleetPayload,
  signedDispatch,
  startTestShipment,
  testConfig,
  testOrder,
  gatewayFixture,
  type GatewayFixture,
} from './support.js';
import { appliedUpdatesQuery } from './workflows/shipment.js';

const config = testConfig();
const taskQueue = uniqueTaskQueue('gateway-api');

let client: Client;
let store: Store;
let gateway: Gateway;
let fixture: GatewayFixture | undefined;
const started: string[] = [];

beforeAll(async () => {
  fixture = await gatewayFixture({ name: 'api', taskQueue, config });
  ({ client, store, gateway } = fixture);
});

afterAll(async () => {
  await fixture?.close(started);
});

async function shipment(overrides: Parameters<typeof testOrder>[0] = {}) {
  const order = testOrder(overrides);
  const id = await startTestShipment(client, taskQueue, order);
  started.push(id);
  return { id, order };
}

function futureWindow(daysAhead = 3) {
  const start = Date.now() + daysAhead * 24 * 3600_000;
  return { start: new Date(start).toISOString(), end: new Date(start + 2 * 3600_000).toISOString() };
}

function post(url: string, body: unknown, headers: Record<string, string>) {
  return gateway.inject({
    method: 'POST',
    url,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
}

describe('reschedule', () => {
  it('when an agent moves the window then the update answers the new window and the status shows it', async () => {
    const { id, order } = await shipment();
    const window = futureWindow();
    const res = await post(
      `/v1/shipments/${id}/reschedule`,
      { window, reason: 'customer call' },
      { ...asRole('agent'), 'idempotency-key': uniqueId('k') },
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ shipmentId: id, window, eta: window.start });
    const status = await gateway.inject({
      method: 'GET',
      url: `/v1/shipments/${order.deliveryId}`,
      headers: asRole('finance'),
    });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({
      shipmentId: id,
      deliveryId: order.deliveryId,
      phase: 'planned',
      window,
    });
  });

  it('when the same Idempotency-Key comes again then the stored response is returned and the update ran once', async () => {
    const { id } = await shipment();
    const key = `"${uniqueId('key-')}"`;
    const body = { window: futureWindow(), reason: 'dispatcher-7 moved it' };
    const first = await post(`/v1/shipments/${id}/reschedule`, body, {
      ...asRole('dispatcher'),
      'idempotency-key': key,
    });
    const reordered = {
      reason: body.reason,
      window: { end: body.window.end, start: body.window.start },
    };
    const second = await post(`/v1/shipments/${id}/reschedule`, reordered, {
      ...asRole('dispatcher'),
      'idempotency-key': key,
    });
    expect(second.statusCode).toBe(first.statusCode);
    expect(second.json()).toEqual(first.json());
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await client.workflow.getHandle(id).query(appliedUpdatesQuery)).toHaveLength(1);

    const other = await post(
      `/v1/shipments/${id}/reschedule`,
      { window: futureWindow(4) },
      { ...asRole('dispatcher'), 'idempotency-key': key },
    );
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });

    const missing = await post(`/v1/shipments/${id}/reschedule`, body, asRole('dispatcher'));
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_MISSING' });
    expect(await client.workflow.getHandle(id).query(appliedUpdatesQuery)).toHaveLength(1);
  });

  it('when the shipment is out for delivery then the refusal is a 409 with its code, and a past window a 422', async () => {
    const { id } = await shipment();
    const ev = signedDispatch(config, onfleetPayload({ shipmentId: id, trigger: 'taskStarted' }));
    await gateway.inject({
      method: 'POST',
      url: '/webhooks/dispatch',
      payload: ev.body,
      headers: ev.headers,
    });
    await gateway.forwarder.drain();
    const late = await post(
      `/v1/shipments/${id}/reschedule`,
      { window: futureWindow() },
      { ...asRole('agent'), 'idempotency-key': uniqueId('k') },
    );
    expect(late.statusCode).toBe(409);
    expect(late.json()).toEqual({ code: 'RESCHEDULE_TOO_LATE', message: 'shipment is in_transit' });

    const other = await shipment();
    const past = {
      start: new Date(Date.now() - 7200_000).toISOString(),
      end: new Date(Date.now() - 3600_000).toISOString(),
    };
    const res = await post(
      `/v1/shipments/${other.id}/reschedule`,
      { window: past },
      { ...asRole('agent'), 'idempotency-key': uniqueId('k') },
    );
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: 'RESCHEDULE_WINDOW_IN_PAST' });
  });

  it('when the body breaks the schema then the answer is 400 naming the field, before anything reaches the shipment', async () => {
    const { id } = await shipment();
    const res = await post(
      `/v1/shipments/${id}/reschedule`,
      { window: { start: '2026-12-03T12:00:00Z', end: '2026-12-03T10:00:00Z' } },
      { ...asRole('agent'), 'idempotency-key': uniqueId('k') },
    );
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'window.end' });
    const notJson = await gateway.inject({
      method: 'POST',
      url: `/v1/shipments/${id}/reschedule`,
      payload: '{"window":',
      headers: { 'content-type': 'application/json', ...asRole('agent'), 'idempotency-key': uniqueId('k') },
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await client.workflow.getHandle(id).query(appliedUpdatesQuery)).toEqual([]);
  });
});

describe('roles', () => {
  it('when the caller has no token, an unknown token or the wrong role then it gets 401 or 403 and nothing runs', async () => {
    const { id } = await shipment();
    const url = `/v1/shipments/${id}/reschedule`;
    const body = { window: futureWindow() };
    const none = await post(url, body, { 'idempotency-key': uniqueId('k') });
    expect([none.statusCode, none.json<{ code: string }>().code]).toEqual([401, 'UNAUTHENTICATED']);
    const unknown = await post(url, body, {
      authorization: 'Bearer not-a-token',
      'idempotency-key': uniqueId('k'),
    });
    expect([unknown.statusCode, unknown.json<{ code: string }>().code]).toEqual([401, 'UNAUTHENTICATED']);
    const finance = await post(url, body, { ...asRole('finance'), 'idempotency-key': uniqueId('k') });
    expect([finance.statusCode, finance.json<{ code: string }>().code]).toEqual([403, 'FORBIDDEN']);
    const approval = await post(
      `/v1/shipments/${id}/charges/approval`,
      {},
      { ...asRole('agent'), 'idempotency-key': uniqueId('k') },
    );
    expect(approval.statusCode).toBe(403);
    const dlq = await gateway.inject({
      method: 'GET',
      url: '/v1/dead-letters',
      headers: asRole('dispatcher'),
    });
    expect(dlq.statusCode).toBe(403);
    expect(await client.workflow.getHandle(id).query(appliedUpdatesQuery)).toEqual([]);
  });

  it('when finance approves charges nobody asked for then the workflow refusal comes back as 409', async () => {
    const { id } = await shipment();
    const res = await post(
      `/v1/shipments/${id}/charges/approval`,
      { approve: true },
      { ...asRole('finance'), 'idempotency-key': uniqueId('k') },
    );
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'APPROVAL_NOT_PENDING' });
  });
});

describe('status and list', () => {
  it('when the shipment does not exist then status is 404, and a malformed id is 400', async () => {
    const missing = await gateway.inject({
      method: 'GET',
      url: `/v1/shipments/shipment-${uniqueId('NOPE')}`,
      headers: asRole('agent'),
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'SHIPMENT_NOT_FOUND' });
    const bad = await gateway.inject({
      method: 'GET',
      url: `/v1/shipments/not%20an%20id`,
      headers: asRole('agent'),
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'params.id' });
  });

  it('when shipments are listed by region, status and exception then only the matching ones come back', async () => {
    const region = `Q${uniqueId()
      .replace(/[^A-Z]/g, '')
      .padEnd(6, 'Q')
      .slice(0, 6)}`;
    const a = await shipment({ region });
    const b = await shipment({ region });
    await shipment();
    await client.workflow.getHandle(b.id).signal(dispatchEventSignal, {
      specversion: '1.0',
      id: uniqueId('ev'),
      source: 'test',
      subject: b.id,
      type: 'delivery.failed.v1',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      correlationid: b.id,
      data: {
        taskId: 't1',
        attempt: 1,
        reason: 'recipient_absent',
        failedAt: new Date().toISOString(),
        notes: '',
        mileageKm: 1,
      },
    });
    const list = (query: string) =>
      eventually(async () => {
        const res = await gateway.inject({
          method: 'GET',
          url: `/v1/shipments?${query}`,
          headers: asRole('dispatcher'),
        });
        const ids = res
          .json<{ shipments: { shipmentId: string }[] }>()
          .shipments.map((s) => s.shipmentId)
          .sort();
        return ids;
      });
    expect(
      await eventually(async () => {
        const ids = await list(`region=${region}`);
        return ids.length === 2 ? ids : undefined;
      }),
    ).toEqual([a.id, b.id].sort());
    expect(
      await eventually(async () => {
        const ids = await list(`region=${region}&exception=failed_attempt`);
        return ids.length === 1 ? ids : undefined;
      }),
    ).toEqual([b.id]);
    expect(
      await eventually(async () => {
        const ids = await list(`region=${region}&status=planned`);
        return ids.length === 1 ? ids : undefined;
      }),
    ).toEqual([a.id]);
    const full = await gateway.inject({
      method: 'GET',
      url: `/v1/shipments?region=${region}&exception=failed_attempt`,
      headers: asRole('agent'),
    });
    expect(full.json<{ shipments: unknown[] }>().shipments[0]).toMatchObject({
      shipmentId: b.id,
      deliveryId: b.order.deliveryId,
      region,
      status: 'failed_attempt',
      openException: 'failed_attempt',
      customerId: b.order.customerId,
      workflowStatus: 'RUNNING',
    });
  });

  it('when a filter tries to break out of the query then it is refused with 400', async () => {
    for (const query of [
      "region=CHI' OR WorkflowId != '",
      'status=not_a_phase',
      'exception=x%27',
      'limit=0',
      'unknown=1',
    ]) {
      const res = await gateway.inject({
        method: 'GET',
        url: `/v1/shipments?${query}`,
        headers: asRole('agent'),
      });
      expect(res.statusCode, query).toBe(400);
      expect(res.json<{ code: string }>().code).toBe('VALIDATION_FAILED');
    }
  });
});

describe('dead letters API', () => {
  it('when an admin lists, shows and discards a letter then it is discarded once and can no longer be replayed', async () => {
    const id = await store.deadLetters.add({
      source: 'erp',
      stage: 'intake',
      reason: 'DeliveryDocument: expected a string',
      code: 'EVENT_SCHEMA_INVALID',
      payload: '{"d":{"DeliveryDocument":7}}',
      headers: { 'content-type': 'application/json', authorization: '[redacted]' },
      createdAt: new Date().toISOString(),
    });
    const admin = asRole('admin');
    const list = await gateway.inject({
      method: 'GET',
      url: '/v1/dead-letters?status=open&source=erp',
      headers: admin,
    });
    expect(
      list.json<{ deadLetters: { id: number; payload?: string }[] }>().deadLetters.find((l) => l.id === id),
    ).toMatchObject({ id, code: 'EVENT_SCHEMA_INVALID', stage: 'intake' });
    const show = await gateway.inject({ method: 'GET', url: `/v1/dead-letters/${id}`, headers: admin });
    expect(show.json()).toMatchObject({
      id,
      payload: '{"d":{"DeliveryDocument":7}}',
      headers: { authorization: '[redacted]' },
    });
    const discard = await gateway.inject({
      method: 'POST',
      url: `/v1/dead-letters/${id}/discard`,
      headers: { ...admin, 'idempotency-key': uniqueId('k') },
    });
    expect(discard.json()).toMatchObject({ id, status: 'discarded' });
    const again = await gateway.inject({
      method: 'POST',
      url: `/v1/dead-letters/${id}/discard`,
      headers: { ...admin, 'idempotency-key': uniqueId('k') },
    });
    expect(again.statusCode).toBe(200);
    const replay = await gateway.inject({
      method: 'POST',
      url: `/v1/dead-letters/${id}/replay`,
      headers: { ...admin, 'idempotency-key': uniqueId('k') },
    });
    expect(replay.statusCode).toBe(409);
    expect(replay.json()).toMatchObject({ code: 'DEAD_LETTER_NOT_OPEN' });
    const missing = await gateway.inject({
      method: 'GET',
      url: '/v1/dead-letters/987654321',
      headers: admin,
    });
    expect(missing.statusCode).toBe(404);
  });
});

describe('operations', () => {
  it('when probed then health, readiness, metrics and the OpenAPI document answer', async () => {
    expect((await gateway.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await gateway.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ ready: true, store: 'ok', temporal: 'ok' });
    const metrics = await gateway.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('shipsync_inbox_backlog');
    expect(metrics.body).toContain('shipsync_forward_latency_seconds_bucket');
    expect(metrics.body).toMatch(
      /shipsync_gateway_events_total\{source="dispatch",outcome="accepted",code=""\} \d+/,
    );
    const doc = (await gateway.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/shipments/{id}/reschedule',
        '/v1/shipments/{id}',
        '/v1/shipments',
        '/v1/dead-letters/{id}/replay',
        '/webhooks/dispatch',
      ]),
    );
    expect(JSON.stringify(doc.paths['/v1/shipments/{id}/reschedule'])).toContain('RescheduleRequest');
    expect((await gateway.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });

  it('when a route, method, media type or size is wrong then the answer is the 4xx error shape', async () => {
    const nf = await gateway.inject({ method: 'GET', url: '/nope' });
    expect([nf.statusCode, nf.json<{ code: string }>().code]).toEqual([404, 'ROUTE_NOT_FOUND']);
    const text = await gateway.inject({
      method: 'POST',
      url: '/webhooks/dispatch',
      payload: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    expect([text.statusCode, text.json<{ code: string }>().code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const big = await gateway.inject({
      method: 'POST',
      url: '/webhooks/dispatch',
      payload: `{"x":"${'a'.repeat(300 * 1024)}"}`,
      headers: { 'content-type': 'application/json' },
    });
    expect([big.statusCode, big.json<{ code: string }>().code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });
});
