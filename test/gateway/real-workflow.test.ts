import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/app.js';
import { openStore, type Store } from '../../src/storage/store.js';
import { sampleOrder } from '../support/fixtures.js';
import { SIM_START, startStack, testDeliveryId, type Stack } from '../support/stack.js';
import { uniqueId } from '../support/temporal.js';
import {
  asRole,
  erpPush,
  onfleetPayload,
  signedCrm,
  signedDispatch,
  testConfig,
  testGateway,
  zendeskRescheduleBody,
} from './support.js';

let stack: Stack | undefined;
let store: Store | undefined;
let gateway: Gateway | undefined;
const dir = mkdtempSync(join(tmpdir(), 'shipsync-real-'));

afterAll(async () => {
  await gateway?.close();
  await store?.close();
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('gateway with the real ShipmentWorkflow and the sandboxes', () => {
  it('when the ERP pushes a release and people and drivers act through the gateway then the real workflow answers each in kind', async () => {
    stack = await startStack();
    const config = testConfig({
      SHIPSYNC_TASK_QUEUE_PREFIX: stack.prefix,
      SHIPSYNC_TIME_SCALE: String(stack.clock.scale),
      SHIPSYNC_CLOCK_ANCHOR_REAL_MS: String(stack.clock.anchorRealMs),
      SHIPSYNC_CLOCK_ANCHOR_SIM: new Date(SIM_START).toISOString(),
    });
    store = await openStore({ backend: 'sqlite', file: join(dir, 'gateway.sqlite') });
    gateway = await testGateway({ client: stack.client, store, config });
    const gw = gateway;
    const windowStart = SIM_START + 90 * 60_000;
    const order = sampleOrder({
      deliveryId: testDeliveryId(),
      plannedDate: '2026-12-01',
      requestedWindow: {
        start: new Date(windowStart).toISOString(),
        end: new Date(windowStart + 2 * 3600_000).toISOString(),
      },
    });
    stack.erp.addDelivery({ order });
    const shipmentId = `shipment-${order.deliveryId}`;

    const push = erpPush(config, order);
    expect(
      (
        await gw.inject({
          method: 'POST',
          url: '/webhooks/erp/releases',
          payload: push.body,
          headers: push.headers,
        })
      ).statusCode,
    ).toBe(200);
    await gw.forwarder.drain();
    const published = await stack.waitFor(shipmentId, (s) => s.phase === 'published' && !!s.taskId);

    const window = { start: '2026-12-02T14:00:00.000Z', end: '2026-12-02T16:00:00.000Z' };
    const reschedule = (body: unknown) =>
      gw.inject({
        method: 'POST',
        url: `/v1/shipments/${order.deliveryId}/reschedule`,
        payload: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...asRole('agent'), 'idempotency-key': uniqueId('k') },
      });
    const accepted = await reschedule({ window, reason: 'customer asked' });
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json()).toMatchObject({ shipmentId, window });
    const notServiceDay = await reschedule({
      window: { start: '2026-12-05T10:00:00Z', end: '2026-12-05T12:00:00Z' },
    });
    expect([notServiceDay.statusCode, notServiceDay.json<{ code: string }>().code]).toEqual([
      422,
      'RESCHEDULE_NOT_SERVICE_DAY',
    ]);

    const status = await gw.inject({
      method: 'GET',
      url: `/v1/shipments/${shipmentId}`,
      headers: asRole('dispatcher'),
    });
    expect(status.json()).toMatchObject({
      shipmentId,
      deliveryId: order.deliveryId,
      window,
      taskId: published.taskId,
    });

    const now = stack.simNow();
    for (const [i, trigger] of ['taskAssigned', 'taskStarted'].entries()) {
      const hook = signedDispatch(
        config,
        onfleetPayload({
          shipmentId,
          trigger,
          taskId: published.taskId!,
          time: now + i * 1000,
          eta: now + 3600_000,
        }),
      );
      expect(
        (
          await gw.inject({
            method: 'POST',
            url: '/webhooks/dispatch',
            payload: hook.body,
            headers: hook.headers,
          })
        ).statusCode,
      ).toBe(200);
    }
    await gw.forwarder.drain();
    await stack.waitFor(shipmentId, (s) => s.phase === 'in_transit');

    const late = await reschedule({ window: { start: '2026-12-03T14:00:00Z', end: '2026-12-03T16:00:00Z' } });
    expect([late.statusCode, late.json<{ code: string }>().code]).toEqual([409, 'RESCHEDULE_TOO_LATE']);

    // The customer asks on the ticket that carries the shipment's notices; too late, and told so there.
    const ticketId = stack.crm.notices.find((n) => n.externalId === shipmentId)?.ticketId;
    expect(ticketId).toBeDefined();
    const body = zendeskRescheduleBody(shipmentId, {
      start: '2026-12-03T14:00:00Z',
      end: '2026-12-03T16:00:00Z',
    });
    const crm = signedCrm(config, { ...body, detail: { id: String(ticketId), external_id: shipmentId } });
    const crmRes = await gw.inject({
      method: 'POST',
      url: '/webhooks/crm',
      payload: crm.body,
      headers: crm.headers,
    });
    await gw.forwarder.drain();
    const eventId = crmRes.json<{ eventId: string }>().eventId;
    expect((await store.deadLetters.list({ source: 'crm' })).filter((l) => l.eventId === eventId)).toEqual(
      [],
    );
    expect(await store.inbox.get(eventId)).toMatchObject({
      outcome: 'ignored',
      outcomeReason: expect.stringMatching(
        new RegExp(`^refused \\(RESCHEDULE_TOO_LATE: .*\\); answered on ticket ${ticketId}$`),
      ),
    });
    const reply = stack.crm.notices.filter(
      (n) => n.ticketId === ticketId && n.body.includes('We could not move delivery'),
    );
    expect(reply).toEqual([
      expect.objectContaining({ body: expect.stringContaining('RESCHEDULE_TOO_LATE') }),
    ]);
  });
});
