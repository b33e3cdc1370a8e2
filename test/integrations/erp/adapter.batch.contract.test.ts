import axios from 'axios';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ShipsyncError } from '../../../src/domain/errors.js';
import type { BillingDocument, Order } from '../../../src/domain/model.js';
import { createErpAdapter, type SapErpAdapter } from '../../../src/integrations/erp/adapter.js';
import type { MilestoneReport } from '../../../src/integrations/ports.js';
import { repeatabilityRequestId } from '../../../src/integrations/erp/mappers.js';
import { startErpSandbox, type ErpSandbox, type RequestCounts } from '../../../sandbox/erp/server.js';
import { freePort } from '../../support/ports.js';
import { effectsOf } from './support.js';

const DATE = '2026-12-01';

function report(order: Order, milestone: MilestoneReport['milestone'], extra: Partial<MilestoneReport> = {}) {
  return {
    deliveryId: order.deliveryId,
    milestone,
    attempt: 1,
    occurredAt: '2026-12-01T14:00:00Z',
    idempotencyKey: `shipment-${order.deliveryId}:${milestone}:1`,
    ...extra,
  } satisfies MilestoneReport;
}

function billingFor(order: Order): BillingDocument {
  return {
    shipmentId: `shipment-${order.deliveryId}`,
    deliveryId: order.deliveryId,
    customerId: order.customerId,
    charges: [
      { code: 'BASE', description: 'Delivery', quantity: 1, unitPrice: 45, amount: 45, currency: 'USD' },
    ],
    total: 45,
    currency: 'USD',
  };
}

/** Each call's outcome: 'ok', or its error code and whether Temporal would retry it. */
async function outcomes(calls: Promise<unknown>[]): Promise<(string | [string, boolean])[]> {
  return (await Promise.allSettled(calls)).map((r) =>
    r.status === 'fulfilled'
      ? 'ok'
      : r.reason instanceof ShipsyncError
        ? [r.reason.code, r.reason.retryable]
        : ['not a ShipsyncError', false],
  );
}

describe('SapErpAdapter batches concurrent writes into OData $batch requests', () => {
  let sandbox: ErpSandbox;
  let erp: SapErpAdapter;
  const seed = (n: number): Order[] => sandbox.seed(n, { date: DATE, regions: ['ATL'] });
  /** ERP requests (HTTP) made while `fn` runs. */
  const requestsDuring = async (fn: () => Promise<unknown>): Promise<RequestCounts> => {
    const before = sandbox.requests();
    await fn();
    const after = sandbox.requests();
    return {
      total: after.total - before.total,
      byMethod: Object.fromEntries(
        Object.entries(after.byMethod)
          .map(([m, n]) => [m, n - (before.byMethod[m] ?? 0)])
          .filter(([, n]) => n !== 0),
      ),
      batches: after.batches - before.batches,
      batchOperations: after.batchOperations - before.batchOperations,
    };
  };
  const milestoneCodes = async (id: string) =>
    (
      await axios.get<{ milestones: { milestone: string }[] }>(
        `${sandbox.url}/__sandbox/deliveries/${id}/milestones`,
      )
    ).data.milestones.map((m) => m.milestone);

  beforeAll(async () => {
    sandbox = await startErpSandbox({ port: await freePort(), seed: 31 });
    erp = createErpAdapter({ baseUrl: sandbox.url, timeoutMs: 5000, bulk: { maxItems: 50, windowMs: 20 } });
    await erp.getDelivery(seed(1)[0]?.deliveryId ?? ''); // warm: the CSRF fetch is not counted below
    await erp.postMilestone(report(seed(1)[0] as Order, 'dispatched'));
  });
  afterAll(async () => sandbox.close());
  afterEach(async () => {
    sandbox.faults.update({ rateLimitStormUntilMs: 0, outageUntilMs: 0 });
    await axios.post(`${sandbox.url}/__sandbox/business-rules`, {
      rejectMilestoneCodes: [],
      billingBlockReason: null,
    });
  });

  it('when 20 milestones are posted at once then they travel in one $batch and each is posted once', async () => {
    const orders = seed(20);
    const before = { ...sandbox.faults.requests.byRoute };
    const counts = await requestsDuring(() =>
      Promise.all(orders.map((o) => erp.postMilestone(report(o, 'dispatched')))),
    );
    // One request where a call each used to make 20.
    expect(counts).toEqual({ total: 1, byMethod: { POST: 1 }, batches: 1, batchOperations: 20 });
    // The sandbox counts it by service and target, as the bench reports it.
    const route = 'POST YY1_SHIPMENTMILESTONE_CDS/$batch';
    expect((sandbox.faults.requests.byRoute[route] ?? 0) - (before[route] ?? 0)).toBe(1);
    for (const o of orders) {
      expect(await milestoneCodes(o.deliveryId)).toEqual(['DISPATCHED']);
      expect((await effectsOf(sandbox.url, 'milestone', o.deliveryId)).map((e) => e.count)).toEqual([1]);
    }
  });

  it('when 20 planned milestones with an ETA are posted at once then three requests carry milestones, ETags and commit dates', async () => {
    const orders = seed(20);
    const eta = '2026-12-01T19:30:00Z';
    const counts = await requestsDuring(() =>
      Promise.all(orders.map((o) => erp.postMilestone(report(o, 'planned', { eta })))),
    );
    // A call each used to make three requests (POST milestone, GET ETag, PATCH header): 60 for 20.
    expect(counts).toEqual({ total: 3, byMethod: { POST: 3 }, batches: 3, batchOperations: 60 });
    for (const o of orders) {
      expect((await effectsOf(sandbox.url, 'commit_date', o.deliveryId)).map((e) => e.count)).toEqual([1]);
      expect((await erp.getDelivery(o.deliveryId)).plannedDate).toBe('2026-12-01');
    }
  });

  it('when the ERP refuses one milestone by a business rule then only that call fails, non-retryable, and the others commit', async () => {
    const orders = seed(6);
    await axios.post(`${sandbox.url}/__sandbox/business-rules`, { rejectMilestoneCodes: ['FAILED_ATTEMPT'] });
    const reports = orders.map((o, i) => report(o, i === 2 ? 'failed_attempt' : 'delivered'));
    const calls = reports.map((r) => erp.postMilestone(r));
    const counts = await requestsDuring(() => Promise.allSettled(calls));
    expect(counts.batches).toBe(1);
    expect(await outcomes(calls)).toEqual(['ok', 'ok', ['ERP_BUSINESS_REJECTED', false], 'ok', 'ok', 'ok']);
    const refused = await calls[2]?.catch((e: unknown) => e);
    expect(refused).toMatchObject({
      details: { status: 400, field: 'MilestoneCode', body: { code: 'YY1_SHIPMENTMILESTONE/001' } },
    });
    expect(await milestoneCodes(orders[2]?.deliveryId ?? '')).toEqual([]);
    for (const i of [0, 1, 3, 4, 5])
      expect(await milestoneCodes(orders[i]?.deliveryId ?? '')).toEqual(['DELIVERED']);
  });

  it('when a milestone is sent again with the same key, alone or twice in one batch, then the ERP holds one record', async () => {
    const [order] = seed(1) as [Order];
    const r = report(order, 'delivered');
    await Promise.all([erp.postMilestone(r), erp.postMilestone(r)]);
    await erp.postMilestone(r);
    expect(await milestoneCodes(order.deliveryId)).toEqual(['DELIVERED']);
    expect(
      (await effectsOf(sandbox.url, 'milestone', order.deliveryId)).map((e) => [e.key, e.count]),
    ).toEqual([[repeatabilityRequestId(r.idempotencyKey), 1]]);
  });

  it('when a 429 storm refuses the whole batch then every call in it fails with retryable ERP_RATE_LIMITED', async () => {
    const orders = seed(4);
    sandbox.faults.update({ rateLimitStormUntilMs: Date.now() + 3_000 });
    const calls = orders.map((o) => erp.postMilestone(report(o, 'dispatched')));
    expect(await outcomes(calls)).toEqual(Array(4).fill(['ERP_RATE_LIMITED', true]));
    const err = await calls[0]?.catch((e: unknown) => e);
    expect((err as ShipsyncError).details.retryAfterMs).toBeGreaterThan(0);
    for (const o of orders) expect(await milestoneCodes(o.deliveryId)).toEqual([]);
  });

  it('when concurrent billing requests go out then one $batch carries them and a refused one fails alone', async () => {
    const orders = seed(4);
    const docs = orders.map(billingFor);
    const bad = { ...(docs[1] as BillingDocument), deliveryId: '79999997' };
    const calls = [docs[0], bad, docs[2], docs[3]].map((d, i) =>
      erp.postBilling(d as BillingDocument, `shipment-${orders[i]?.deliveryId}:billing`),
    );
    const counts = await requestsDuring(() => Promise.allSettled(calls));
    expect([counts.total, counts.batches, counts.batchOperations]).toEqual([1, 1, 4]);
    expect(await outcomes(calls)).toEqual(['ok', ['ERP_BUSINESS_REJECTED', false], 'ok', 'ok']);
    const numbers = await Promise.all([calls[0], calls[2], calls[3]]);
    expect(new Set(numbers.map((n) => n?.billingDocumentId)).size).toBe(3);
    const again = await erp.postBilling(
      docs[0] as BillingDocument,
      `shipment-${orders[0]?.deliveryId}:billing`,
    );
    expect(again).toEqual(numbers[0]);
  });

  it('when goods issue is posted for several deliveries at once then two requests read the ETags and post it, once each', async () => {
    const orders = seed(5);
    const counts = await requestsDuring(() =>
      Promise.all(
        orders.map((o) => erp.postGoodsIssue(o.deliveryId, `shipment-${o.deliveryId}:goods-issue`)),
      ),
    );
    expect([counts.total, counts.batches]).toEqual([2, 2]);
    for (const o of orders)
      expect((await effectsOf(sandbox.url, 'goods_issue', o.deliveryId)).map((e) => e.count)).toEqual([1]);
  });
});
