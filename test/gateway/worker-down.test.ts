import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/app.js';
import { openStore, type Store } from '../../src/storage/store.js';
import { connectClient, temporalAddress, uniqueId, uniqueTaskQueue } from '../support/temporal.js';
import {
  asRole,
  finishAll,
  onfleetPayload,
  receivedIds,
  signedCrm,
  signedDispatch,
  startTestShipment,
  startTestWorker,
  testConfig,
  testGateway,
  testOrder,
  zendeskRescheduleBody,
} from './support.js';
import { appliedUpdatesQuery } from './workflows/shipment.js';

const config = testConfig();
const taskQueue = uniqueTaskQueue('gateway-worker-down');
const dir = mkdtempSync(join(tmpdir(), 'shipsync-worker-down-'));
let client: Client | undefined;
let connection: Connection | undefined;
let store: Store | undefined;
let gateway: Gateway | undefined;
let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
const started: string[] = [];

afterAll(async () => {
  await gateway?.close();
  if (client) await finishAll(client, started);
  await worker?.stop();
  await store?.close();
  await connection?.close();
  rmSync(dir, { recursive: true, force: true });
});

function futureWindow(daysAhead: number) {
  const start = Date.now() + daysAhead * 24 * 3600_000;
  return { start: new Date(start).toISOString(), end: new Date(start + 2 * 3600_000).toISOString() };
}

describe('gateway while the workers are stopped', () => {
  it('when no worker runs then every /v1 route answers 503 WORKER_UNAVAILABLE with Retry-After or its own 4xx, never 500, and a reschedule webhook waits in the inbox until the worker is back, then applies once', async () => {
    ({ client, connection } = await connectClient());
    const c = client;
    worker = await startTestWorker(temporalAddress(), taskQueue);
    const shipmentId = await startTestShipment(c, taskQueue);
    const otherShipment = await startTestShipment(c, taskQueue);
    started.push(shipmentId, otherShipment);
    store = await openStore({ backend: 'sqlite', file: join(dir, 'gateway.sqlite') });
    gateway = await testGateway({
      client: c,
      store,
      config,
      queryTimeoutMs: 2_000,
      updateTimeoutMs: 3_000,
      taskGuard: { describeTimeoutMs: 1_000 },
    });
    const gw = gateway;
    gw.forwarder.start();
    // Up and answering first: the shipment exists and has been queried by its worker.
    expect(
      (await gw.inject({ method: 'GET', url: `/v1/shipments/${shipmentId}`, headers: asRole('agent') }))
        .statusCode,
    ).toBe(200);

    await worker.stop();
    worker = undefined;

    const window = futureWindow(3);
    const crm = signedCrm(config, zendeskRescheduleBody(shipmentId, window));
    const crmRes = await gw.inject({
      method: 'POST',
      url: '/webhooks/crm',
      payload: crm.body,
      headers: crm.headers,
    });
    expect(crmRes.statusCode).toBe(200);
    const rescheduleEvent = crmRes.json<{ eventId: string }>().eventId;
    // A dispatch milestone of another shipment is a signal: it needs no worker and goes through meanwhile.
    const hook = signedDispatch(
      config,
      onfleetPayload({ shipmentId: otherShipment, trigger: 'taskArrival' }),
    );
    const hookRes = await gw.inject({
      method: 'POST',
      url: '/webhooks/dispatch',
      payload: hook.body,
      headers: hook.headers,
    });
    const signalEvent = hookRes.json<{ eventId: string }>().eventId;

    const missing = `shipment-${testOrder().deliveryId}`;
    const post = (url: string, body: unknown, key = uniqueId('k'), role: 'admin' | 'finance' = 'admin') =>
      gw.inject({
        method: 'POST',
        url,
        payload: JSON.stringify(body),
        headers: { 'content-type': 'application/json', 'idempotency-key': key, ...asRole(role) },
      });
    const rescheduleKey = uniqueId('k');
    const answers = {
      status: await gw.inject({
        method: 'GET',
        url: `/v1/shipments/${shipmentId}`,
        headers: asRole('agent'),
      }),
      reschedule: await post(
        `/v1/shipments/${shipmentId}/reschedule`,
        { window: futureWindow(4) },
        rescheduleKey,
      ),
      address: await post(`/v1/shipments/${shipmentId}/address`, { address: testOrder().address }),
      approval: await post(`/v1/shipments/${shipmentId}/charges/approval`, {}, undefined, 'finance'),
      resolve: await post(`/v1/shipments/${shipmentId}/exceptions/resolve`, {
        kind: 'failed_attempt',
        resolution: 'called the customer',
      }),
      missingStatus: await gw.inject({
        method: 'GET',
        url: `/v1/shipments/${missing}`,
        headers: asRole('agent'),
      }),
      missingReschedule: await post(`/v1/shipments/${missing}/reschedule`, { window: futureWindow(4) }),
      badId: await gw.inject({ method: 'GET', url: '/v1/shipments/not%20an%20id', headers: asRole('agent') }),
      list: await gw.inject({ method: 'GET', url: '/v1/shipments?limit=5', headers: asRole('agent') }),
      letters: await gw.inject({ method: 'GET', url: '/v1/dead-letters', headers: asRole('admin') }),
      letter: await gw.inject({ method: 'GET', url: '/v1/dead-letters/987654', headers: asRole('admin') }),
      replay: await post('/v1/dead-letters/987654/replay', null),
      discard: await post('/v1/dead-letters/987654/discard', null),
      noToken: await gw.inject({ method: 'GET', url: `/v1/shipments/${shipmentId}` }),
    };
    const seen = Object.fromEntries(
      Object.entries(answers).map(([route, res]) => [
        route,
        `${res.statusCode} ${res.statusCode === 200 ? '' : res.json<{ code: string }>().code}`.trim(),
      ]),
    );
    expect(seen).toEqual({
      status: '503 WORKER_UNAVAILABLE',
      reschedule: '503 WORKER_UNAVAILABLE',
      address: '503 WORKER_UNAVAILABLE',
      approval: '503 WORKER_UNAVAILABLE',
      resolve: '503 WORKER_UNAVAILABLE',
      missingStatus: '404 SHIPMENT_NOT_FOUND',
      missingReschedule: '404 SHIPMENT_NOT_FOUND',
      badId: '400 VALIDATION_FAILED',
      list: '200',
      letters: '200',
      letter: '404 DEAD_LETTER_NOT_FOUND',
      replay: '404 DEAD_LETTER_NOT_FOUND',
      discard: '404 DEAD_LETTER_NOT_FOUND',
      noToken: '401 UNAUTHENTICATED',
    });
    for (const res of Object.values(answers).filter((r) => r.statusCode === 503)) {
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json<{ message: string }>().message).toMatch(/no worker answered/);
    }

    // The reschedule waits in the inbox, retried, never a dead letter; the other shipment's signal went.
    await expect
      .poll(async () => (await store!.inbox.get(rescheduleEvent))?.attempts ?? 0, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(2);
    expect(await store.inbox.get(rescheduleEvent)).toMatchObject({
      status: 'pending',
      lastError: expect.stringMatching(/no worker answered/),
    });
    expect(await store.inbox.get(signalEvent)).toMatchObject({ status: 'delivered', outcome: 'forwarded' });
    expect(await store.deadLetters.list()).toEqual([]);

    worker = await startTestWorker(temporalAddress(), taskQueue);
    await expect
      .poll(async () => (await store!.inbox.get(rescheduleEvent))?.outcome, { timeout: 30_000 })
      .toBe('forwarded');
    expect(await c.workflow.getHandle(shipmentId).query(appliedUpdatesQuery)).toContain(
      `reschedule:${window.start}`,
    );
    expect(
      (await c.workflow.getHandle(shipmentId).query(appliedUpdatesQuery)).filter(
        (u) => u === `reschedule:${window.start}`,
      ),
    ).toHaveLength(1);
    expect(await receivedIds(c, otherShipment)).toEqual([signalEvent]);
    expect(await store.deadLetters.list()).toEqual([]);
    // The 503 was not stored under its Idempotency-Key: the same request now succeeds.
    const retried = await post(
      `/v1/shipments/${shipmentId}/reschedule`,
      { window: futureWindow(4) },
      rescheduleKey,
    );
    expect(retried.statusCode).toBe(200);
  }, 120_000);
});
