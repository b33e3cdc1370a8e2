import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { TARIFF } from '../../src/domain/billing.js';
import { dispatchEventSignal, retryParkedUpdate } from '../../src/workflows/shipment/contract.js';
import { erpMilestones } from '../support/inspect.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

interface ErpBillingRequest {
  deliveryId: string;
  total: string;
  pricingVersion: string;
  items: { chargeCode: string; unitPrice: string | null; amount: string }[];
}

/** The billing request the ERP sandbox holds for a delivery. */
async function erpBillingOf(s: Stack, deliveryId: string): Promise<ErpBillingRequest | undefined> {
  const res = await axios.get<{ billingRequests: ErpBillingRequest[] }>(`${s.erp.url}/__sandbox/billing`);
  return res.data.billingRequests.find((b) => b.deliveryId === deliveryId);
}

/** Changes a condition record in the ERP sandbox, as a key user would in the condition maintenance app. */
async function changeCondition(s: Stack, conditionType: string, change: Record<string, unknown>) {
  await axios.post(`${s.erp.url}/__sandbox/pricing/conditions/${conditionType}`, change);
}

/** Plays a delivery with 20 km driven and the liftgate used, and waits for the shipment's result. */
async function deliver(s: Stack) {
  const { order, workflowId, handle } = await s.start({ pallets: 2 });
  await s.waitFor(workflowId, (st) => st.phase === 'published' && !!st.taskId);
  for (const [type, data] of [
    ['route.assigned.v1', {}],
    ['stop.started.v1', {}],
    ['delivery.completed.v1', { mileageKm: 20, accessorials: { liftgate: true, waitingMinutes: 0 } }],
  ] as const) {
    await handle.signal(dispatchEventSignal, await s.event(workflowId, type, data));
  }
  return { order, workflowId, handle };
}

const unitPrices = (items: { chargeCode: string; unitPrice: string | null }[]) =>
  Object.fromEntries(items.map((i) => [i.chargeCode, Number(i.unitPrice)]));

describe('charges priced from the ERP’s condition records', () => {
  it('when a shipment is billed then it carries the ERP’s prices and their version; after a price change the next one is billed at the new price with a new version', async () => {
    stack = await startStack({ priceListTtlMs: 0 });
    const first = await deliver(stack);
    const firstResult = await first.handle.result();
    expect(firstResult.pricingVersion).toMatch(/^\d{14}-[0-9a-f]{8}$/);
    const firstBill = await erpBillingOf(stack, first.order.deliveryId);
    expect(firstBill?.pricingVersion).toBe(firstResult.pricingVersion);
    expect(unitPrices(firstBill?.items ?? [])).toMatchObject({
      BASE: TARIFF.basePerShipment + 2 * TARIFF.basePerPallet,
      LIFTGATE: TARIFF.liftgate,
    });
    expect(Number(firstBill?.total)).toBeCloseTo(firstResult.total, 2);

    await changeCondition(stack, 'ZFBS', { rate: 52 });
    await changeCondition(stack, 'ZFLG', { rate: 82.5 });
    const second = await deliver(stack);
    const secondResult = await second.handle.result();
    const secondBill = await erpBillingOf(stack, second.order.deliveryId);
    expect(secondResult.pricingVersion).toMatch(/^\d{14}-[0-9a-f]{8}$/);
    expect(secondResult.pricingVersion).not.toBe(firstResult.pricingVersion);
    expect(secondBill?.pricingVersion).toBe(secondResult.pricingVersion);
    expect(unitPrices(secondBill?.items ?? [])).toMatchObject({
      BASE: 52 + 2 * TARIFF.basePerPallet,
      LIFTGATE: 82.5,
    });
    expect(Number(secondBill?.total)).toBeCloseTo(secondResult.total, 2);
    // The first shipment keeps what it was billed.
    expect((await erpBillingOf(stack, first.order.deliveryId))?.pricingVersion).toBe(
      firstResult.pricingVersion,
    );
  });

  it('when the ERP has no valid record of a condition type then pricing is parked naming it, and a retry once the record is back bills the shipment', async () => {
    stack = await startStack({ priceListTtlMs: 0 });
    await changeCondition(stack, 'ZFLG', { deleted: true });
    const { order, workflowId, handle } = await deliver(stack);
    const parked = await stack.waitFor(workflowId, (st) => !!st.parked?.length);
    expect(parked).toMatchObject({ phase: 'billing', outcome: 'delivered', charges: [] });
    expect(parked.parked?.[0]).toMatchObject({
      id: 'p1',
      action: { kind: 'pricing' },
      code: 'ERP_PRICING_INCOMPLETE',
      message: expect.stringContaining('condition type ZFLG'),
    });
    expect(await erpBillingOf(stack, order.deliveryId)).toBeUndefined();

    await changeCondition(stack, 'ZFLG', { deleted: false });
    const retried = await handle.executeUpdate(retryParkedUpdate, {
      args: [{ parkedId: 'p1', by: 'fin-ana' }],
    });
    expect(retried).toMatchObject({ outcome: 'posted', stillParked: 0 });
    const result = await handle.result();
    const bill = await erpBillingOf(stack, order.deliveryId);
    expect(bill?.pricingVersion).toBe(result.pricingVersion);
    expect(unitPrices(bill?.items ?? [])).toMatchObject({ LIFTGATE: TARIFF.liftgate });
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toContain('BILLED#1');
  });
});
