import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  approveChargesUpdate,
  rescheduleUpdate,
  type ShipmentStatus,
} from '../../src/workflows/shipment/contract.js';
import { startStubHarness, workflowBundle, type StubHarness } from './support/stub-worker.js';

/**
 * Visibility follows the shipment (the search-attributes-follow-state patch): what finance and agents filter
 * on in the Web UI and `shipsync list` is true of the shipment now.
 */
let h: StubHarness;
beforeAll(() => workflowBundle());
beforeEach(async () => {
  h = await startStubHarness();
});
afterEach(async () => {
  await h.stop();
});

const published = (s: ShipmentStatus) => s.phase === 'published' && !!s.taskId;

describe('search attributes that follow the shipment', () => {
  it('when an agent reschedules to the next day then DeliveryDate moves to that day', async () => {
    const sh = await h.start();
    await sh.until(published);
    await sh.send('route.assigned.v1');
    await sh.until((s) => s.phase === 'planned');
    const deliveryDate = async () =>
      (await sh.handle.describe()).searchAttributes.DeliveryDate?.[0] as Date | undefined;
    await expect
      .poll(async () => (await deliveryDate())?.toISOString(), { timeout: 5_000 })
      .toBe('2026-12-01T00:00:00.000Z');
    const window = { start: '2026-12-02T14:00:00.000Z', end: '2026-12-02T16:00:00.000Z' };
    await sh.handle.executeUpdate(rescheduleUpdate, {
      args: [{ window, reason: 'customer asked', requestedBy: 'agent' }],
    });
    await expect
      .poll(async () => (await deliveryDate())?.toISOString(), { timeout: 5_000 })
      .toBe('2026-12-02T00:00:00.000Z');
  });

  it('when charges wait for finance then InvoiceReady is true, and false once billed', async () => {
    const sh = await h.start({ settings: { approvalThreshold: 50 } });
    await sh.until(published);
    const invoiceReady = async () => (await sh.handle.describe()).searchAttributes.InvoiceReady?.[0];
    expect(await invoiceReady()).toBe(false);
    await sh.send('route.assigned.v1', 'stop.started.v1', [
      'delivery.completed.v1',
      { accessorials: { liftgate: true, waitingMinutes: 45 } },
    ]);
    await sh.until((s) => s.awaitingApproval);
    await expect.poll(invoiceReady, { timeout: 5_000 }).toBe(true);
    await sh.handle.executeUpdate(approveChargesUpdate, { args: [{ approvedBy: 'fin-ops', approve: true }] });
    await sh.handle.result();
    await expect.poll(invoiceReady, { timeout: 5_000 }).toBe(false);
  });

  it('when a severe delay opens a case then OpenExceptions lists it, and none once it is resolved by delivery', async () => {
    const sh = await h.start();
    await sh.until(published);
    await sh.send('route.assigned.v1', 'stop.started.v1', [
      'delivery.delayed.v1',
      { delaySeconds: 3 * 3600 },
    ]);
    await sh.until((s) => s.openCases.some((c) => c.kind === 'delay'));
    const open = async () => (await sh.handle.describe()).searchAttributes.OpenExceptions;
    await expect.poll(open, { timeout: 5_000 }).toEqual(['delay']);
    await sh.send('delivery.completed.v1');
    await sh.handle.result();
    await expect.poll(open, { timeout: 5_000 }).toEqual(['none']);
  });
});
