import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.js';
import { releaseNow } from '../../src/platform/release.js';
import { shipmentWorkflowId } from '../../src/workflows/shipment/contract.js';
import { sampleOrder } from '../support/fixtures.js';
import { startStack, testDeliveryId, type Stack } from '../support/stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('order release and region planning', () => {
  it('when the release pass runs twice then each released delivery gets one shipment and the second pass attaches', async () => {
    stack = await startStack();
    const orders = [0, 1, 2].map(() =>
      sampleOrder({ deliveryId: testDeliveryId(), plannedDate: '2026-12-01' }),
    );
    for (const order of orders) stack.erp.addDelivery({ order });
    const config = loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_TASK_QUEUE_PREFIX: stack.prefix });
    const first = await releaseNow(stack.client, config);
    expect(first).toMatchObject({ seen: orders.length, started: orders.length, attached: 0 });
    const second = await releaseNow(stack.client, config);
    expect(second.started).toBe(0);
    expect(second.attached).toBe(first.seen);
    for (const order of orders) {
      const desc = await stack.client.workflow.getHandle(shipmentWorkflowId(order.deliveryId)).describe();
      expect(desc.status.name).toBe('RUNNING');
    }
  });

  it('when a released delivery has data the adapter refuses then the release pass keeps it as one dead letter with the reason, however often it runs', async () => {
    stack = await startStack();
    const good = sampleOrder({ deliveryId: testDeliveryId(), plannedDate: '2026-12-01' });
    const bad = sampleOrder({ deliveryId: testDeliveryId(), plannedDate: '2026-12-01' });
    stack.erp.addDelivery({ order: good });
    stack.erp.addDelivery({ order: bad, overrides: { header: { YY1_DelivWindowStart_DLH: 'soon' } } });
    const config = loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_TASK_QUEUE_PREFIX: stack.prefix });
    const first = await releaseNow(stack.client, config);
    expect(first).toMatchObject({ started: 1, rejected: 1 });
    await releaseNow(stack.client, config);
    const letters = await stack.store.deadLetters.list({ status: 'open' });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      source: 'erp',
      stage: 'release',
      eventId: `release:${bad.deliveryId}`,
      code: 'VALIDATION_FAILED',
      reason: expect.stringContaining('YY1_DelivWindowStart_DLH'),
    });
    // The ERP's own entity is kept, as read, for whoever fixes the delivery there.
    expect(JSON.parse(letters[0]?.payload ?? '{}')).toMatchObject({ YY1_DelivWindowStart_DLH: 'soon' });
    const never = stack.client.workflow.getHandle(shipmentWorkflowId(bad.deliveryId));
    await expect(never.describe()).rejects.toThrow(/not found/i);
  });

  it('when no driver is assigned by the cutoff plus grace then an escalation case opens', async () => {
    stack = await startStack({ scale: 3600, settings: { noAssignmentGraceMinutes: 30 } });
    const { workflowId } = await stack.start();
    const status = await stack.waitFor(
      workflowId,
      (s) => s.openCases.some((c) => c.kind === 'no_assignment'),
      20_000,
    );
    expect(status.phase).toBe('published');
  });
});
