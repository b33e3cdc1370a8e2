import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axios from 'axios';
import { afterAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/app.js';
import { openStore, type Store } from '../../src/storage/store.js';
import { sampleOrder } from '../support/fixtures.js';
import { crmCases, erpMilestones } from '../support/inspect.js';
import { SIM_START, startStack, testDeliveryId, type Stack } from '../support/stack.js';
import { asRole, erpPush, onfleetPayload, signedDispatch, testConfig, testGateway } from './support.js';

let stack: Stack | undefined;
let store: Store | undefined;
let gateway: Gateway | undefined;
const dir = mkdtempSync(join(tmpdir(), 'shipsync-foreign-'));

afterAll(async () => {
  await gateway?.close();
  await store?.close();
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Signal payloads in a workflow's history that mention a text. */
async function signalsMentioning(s: Stack, workflowId: string, text: string): Promise<number> {
  const history = await s.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) =>
    (e.workflowExecutionSignaledEventAttributes?.input?.payloads ?? []).some((p) =>
      Buffer.from(p.data ?? new Uint8Array())
        .toString('utf8')
        .includes(text),
    ),
  ).length;
}

describe('dispatch webhooks about a task shipsync did not create', () => {
  it('when a signed taskFailed for a cloned task carries a real shipment metadata then ERP, dispatch and the workflow are unchanged and the event is kept as ignored with its reason', async () => {
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
    await gw.inject({
      method: 'POST',
      url: '/webhooks/erp/releases',
      payload: push.body,
      headers: push.headers,
    });
    await gw.forwarder.drain();
    const published = await stack.waitFor(shipmentId, (s) => s.phase === 'published' && !!s.taskId);
    const realTask = published.taskId!;
    const tasksOf = async () =>
      (
        await axios.get<{ tasks: { id: string }[] }>(`${stack!.dispatch.url}/__sandbox/tasks`, {
          params: { shipmentId },
        })
      ).data.tasks.map((t) => t.id);
    expect(await tasksOf()).toEqual([realTask]);

    const post = async (payload: unknown) => {
      const hook = signedDispatch(config, payload);
      const res = await gw.inject({
        method: 'POST',
        url: '/webhooks/dispatch',
        payload: hook.body,
        headers: hook.headers,
      });
      expect(res.statusCode).toBe(200);
      return res.json<{ eventId: string }>().eventId;
    };
    const now = stack.simNow();
    // An Onfleet clone of the task: another id, the original's metadata (this shipment, attempt 1).
    const foreignTask = `${realTask.slice(0, -4)}CLON`;
    const foreignId = await post(
      onfleetPayload({ shipmentId, trigger: 'taskFailed', taskId: foreignTask, time: now }),
    );
    // The shipment's own task goes on after it, in receipt order: a barrier the foreign event would precede.
    await post(
      onfleetPayload({
        shipmentId,
        trigger: 'taskAssigned',
        taskId: realTask,
        time: now + 1000,
        eta: now + 3600_000,
      }),
    );
    expect(await gw.forwarder.drain()).toBe(0);
    const planned = await stack.waitFor(shipmentId, (s) => s.phase === 'planned' && s.driverId !== undefined);
    expect(planned).toMatchObject({ attempts: 1, taskId: realTask });
    await expect
      .poll(() => erpMilestones(stack!.erp.url, order.deliveryId), { timeout: 30_000 })
      .toContain('PLANNED#1');

    expect(await store.inbox.get(foreignId)).toMatchObject({
      status: 'delivered',
      outcome: 'ignored',
      outcomeReason: expect.stringContaining(foreignTask),
    });
    expect(await signalsMentioning(stack, shipmentId, foreignTask)).toBe(0);
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).not.toContainEqual(
      expect.stringMatching(/^FAILED_ATTEMPT/),
    );
    expect(await tasksOf()).toEqual([realTask]);
    expect((await crmCases(stack.crm.url, shipmentId)).map((c) => c.kind)).not.toContain('failed_attempt');
    expect(await store.deadLetters.list()).toEqual([]);
    const status = await gw.inject({
      method: 'GET',
      url: `/v1/shipments/${shipmentId}`,
      headers: asRole('agent'),
    });
    expect(status.json()).toMatchObject({
      attempts: 1,
      inbox: { forwarded: 2, ignored: 1, late: 0, dead: 0, pending: 0 },
    });
    const metrics = await gw.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain(
      'shipsync_gateway_ignored_events_total{source="dispatch",type="delivery.failed.v1"} 1',
    );
  });
});
