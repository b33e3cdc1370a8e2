import axios from 'axios';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ShipsyncError } from '../../../src/domain/errors.js';
import type { BillingDocument, Order } from '../../../src/domain/model.js';
import { createErpAdapter, type SapErpAdapter } from '../../../src/integrations/erp/adapter.js';
import { classifyResponse } from '../../../src/integrations/erp/adapter.js';
import { repeatabilityRequestId } from '../../../src/integrations/erp/mappers.js';
import { createLogger } from '../../../src/platform/logger.js';
import { DELIVERY_SERVICE_PATH, startErpSandbox, type ErpSandbox } from '../../../sandbox/erp/server.js';
import { freePort } from '../../support/ports.js';
import { sampleOrder } from '../../support/fixtures.js';
import { csrfSession, effectsOf, logSink } from './support.js';

const DATE = '2026-12-01';

async function rejection(p: Promise<unknown>): Promise<ShipsyncError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ShipsyncError);
    return err as ShipsyncError;
  }
  throw new Error('expected the call to fail');
}

function billingFor(order: Order, total = 60): BillingDocument {
  return {
    shipmentId: `shipment-${order.deliveryId}`,
    deliveryId: order.deliveryId,
    customerId: order.customerId,
    charges: [
      {
        code: 'BASE',
        description: 'Delivery',
        quantity: 1,
        unitPrice: total - 15,
        amount: total - 15,
        currency: 'USD',
      },
      { code: 'LIFTGATE', description: 'Liftgate', quantity: 1, unitPrice: 15, amount: 15, currency: 'USD' },
    ],
    total,
    currency: 'USD',
  };
}

describe('SapErpAdapter against the ERP sandbox', () => {
  let sandbox: ErpSandbox;
  let erp: SapErpAdapter;
  const one = (): Order => sandbox.seed(1, { date: DATE, regions: ['CHI'] })[0] as Order;
  const header = async (id: string) =>
    (
      await axios.get<{ d: Record<string, unknown> }>(
        `${sandbox.url}${DELIVERY_SERVICE_PATH}A_OutbDeliveryHeader('${id}')`,
      )
    ).data.d;

  beforeAll(async () => {
    sandbox = await startErpSandbox({ port: await freePort(), seed: 11 });
    erp = createErpAdapter({ baseUrl: sandbox.url, timeoutMs: 2000 });
  });
  afterAll(async () => sandbox.close());
  afterEach(() => {
    sandbox.faults.update({ outageUntilMs: 0, rateLimitStormUntilMs: 0, latencyMs: 0, errorRate: 0 });
  });

  it('when a seeded delivery is read then the adapter returns the order the sandbox seeded', async () => {
    const order = one();
    expect(await erp.getDelivery(order.deliveryId)).toEqual(order);
  });

  it('when the delivery does not exist then reads and goods issue fail with ERP_DELIVERY_NOT_FOUND', async () => {
    expect((await rejection(erp.getDelivery('79999999'))).code).toBe('ERP_DELIVERY_NOT_FOUND');
    expect((await rejection(erp.postGoodsIssue('79999999', 'shipment-79999999:goods-issue'))).code).toBe(
      'ERP_DELIVERY_NOT_FOUND',
    );
  });

  it('when a planned milestone with an ETA is posted twice then one milestone and one commit-date change exist', async () => {
    const order = one();
    const report = {
      deliveryId: order.deliveryId,
      milestone: 'planned' as const,
      attempt: 1,
      occurredAt: '2026-11-30T18:00:00Z',
      eta: '2026-12-02T16:45:00Z',
      idempotencyKey: `shipment-${order.deliveryId}:planned:1`,
    };
    await erp.postMilestone(report);
    await erp.postMilestone(report);
    const listed = await axios.get<{ milestones: { milestone: string; plannedEta: string }[] }>(
      `${sandbox.url}/__sandbox/deliveries/${order.deliveryId}/milestones`,
    );
    expect(listed.data.milestones).toEqual([
      expect.objectContaining({ milestone: 'PLANNED', plannedEta: `/Date(${Date.parse(report.eta)}+0000)/` }),
    ]);
    const milestoneEffects = await effectsOf(sandbox.url, 'milestone', order.deliveryId);
    expect(milestoneEffects.map((e) => [e.key, e.count])).toEqual([
      [repeatabilityRequestId(report.idempotencyKey), 1],
    ]);
    expect((await effectsOf(sandbox.url, 'commit_date', order.deliveryId)).map((e) => e.count)).toEqual([1]);
    const h = await header(order.deliveryId);
    expect([h.DeliveryDate, h.DeliveryTime]).toEqual([`/Date(${Date.UTC(2026, 11, 2)})/`, 'PT16H45M00S']);
    expect((await erp.getDelivery(order.deliveryId)).plannedDate).toBe('2026-12-02');
  });

  it('when milestones arrive in order then the sandbox lists them in that order', async () => {
    const order = one();
    for (const [i, milestone] of (
      ['dispatched', 'failed_attempt', 'dispatched', 'delivered'] as const
    ).entries()) {
      await erp.postMilestone({
        deliveryId: order.deliveryId,
        milestone,
        attempt: i < 2 ? 1 : 2,
        occurredAt: new Date(Date.UTC(2026, 11, 1, 14 + i)).toISOString(),
        idempotencyKey: `shipment-${order.deliveryId}:${milestone}:${i < 2 ? 1 : 2}`,
      });
    }
    const listed = await axios.get<{ milestones: { milestone: string; attempt: number }[] }>(
      `${sandbox.url}/__sandbox/deliveries/${order.deliveryId}/milestones`,
    );
    expect(listed.data.milestones.map((m) => `${m.milestone}#${m.attempt}`)).toEqual([
      'DISPATCHED#1',
      'FAILED_ATTEMPT#1',
      'DISPATCHED#2',
      'DELIVERED#2',
    ]);
  });

  it('when goods issue is posted and replayed then stock leaves once and the delivery is no longer released', async () => {
    const order = one();
    const key = `shipment-${order.deliveryId}:goods-issue`;
    await erp.postGoodsIssue(order.deliveryId, key);
    await erp.postGoodsIssue(order.deliveryId, key);
    expect((await effectsOf(sandbox.url, 'goods_issue', order.deliveryId)).map((e) => e.count)).toEqual([1]);
    expect((await header(order.deliveryId)).OverallGoodsMovementStatus).toBe('C');
    const released = await erp.listReleasedDeliveries({ pageSize: 1000 });
    expect(released.orders.map((o) => o.deliveryId)).not.toContain(order.deliveryId);
    const second = await rejection(erp.postGoodsIssue(order.deliveryId, `${key}:other-step`));
    expect(second.code).toBe('ERP_BUSINESS_REJECTED');
  });

  it('when billing is posted and replayed then one billing request exists and both calls get its number', async () => {
    const order = one();
    const key = `shipment-${order.deliveryId}:billing`;
    const first = await erp.postBilling(billingFor(order), key);
    const again = await erp.postBilling(billingFor(order), key);
    expect(again.billingDocumentId).toBe(first.billingDocumentId);
    expect((await effectsOf(sandbox.url, 'billing_request', order.deliveryId)).map((e) => e.count)).toEqual([
      1,
    ]);
    const billing = await axios.get<{
      billingRequests: { billingDocumentRequest: string; deliveryId: string; total: string }[];
    }>(`${sandbox.url}/__sandbox/billing`);
    expect(billing.data.billingRequests.filter((b) => b.deliveryId === order.deliveryId)).toEqual([
      expect.objectContaining({ billingDocumentRequest: first.billingDocumentId, total: '60.00' }),
    ]);
  });

  it('when the same key comes with another body then the ERP answers 422 and the adapter says ERP_BUSINESS_REJECTED', async () => {
    const order = one();
    const key = `shipment-${order.deliveryId}:billing`;
    await erp.postBilling(billingFor(order, 60), key);
    const err = await rejection(erp.postBilling(billingFor(order, 90), key));
    expect([err.code, err.details.status]).toEqual(['ERP_BUSINESS_REJECTED', 422]);
    expect((await effectsOf(sandbox.url, 'billing_request', order.deliveryId)).map((e) => e.count)).toEqual([
      1,
    ]);
  });

  it('when billing names an unknown delivery then the ERP rejects it as a business error naming the field', async () => {
    const err = await rejection(
      erp.postBilling(billingFor({ ...sampleOrder(), deliveryId: '79999998' }), 'shipment-79999998:billing'),
    );
    expect([err.code, err.details.field]).toEqual(['ERP_BUSINESS_REJECTED', 'ReferenceDocument']);
  });

  it('when a write is sent without If-Match then the ERP answers 428, classified ERP_PRECONDITION_REQUIRED', async () => {
    const order = one();
    const { token, cookie } = await csrfSession(sandbox.url);
    const res = await axios.patch(
      `${sandbox.url}${DELIVERY_SERVICE_PATH}A_OutbDeliveryHeader('${order.deliveryId}')`,
      { DeliveryPriority: '01' },
      { headers: { 'x-csrf-token': token, cookie }, validateStatus: () => true },
    );
    expect(res.status).toBe(428);
    expect(res.data).toMatchObject({ error: { message: { lang: 'en' } } });
    expect(classifyResponse(res, 'raw patch').code).toBe('ERP_PRECONDITION_REQUIRED');
  });

  it('when another user changes the delivery between read and write then the adapter rereads the ETag and succeeds', async () => {
    const order = one();
    const sink = logSink();
    const logged = createErpAdapter({
      baseUrl: sandbox.url,
      logger: createLogger({ level: 'info', destination: sink.stream }),
    });
    const before = await header(order.deliveryId);
    sandbox.concurrentEdits(order.deliveryId, 1);
    await logged.postGoodsIssue(order.deliveryId, `shipment-${order.deliveryId}:goods-issue`);
    expect(sink.lines.some((l) => String(l.msg).includes('ETag stale'))).toBe(true);
    expect((await effectsOf(sandbox.url, 'goods_issue', order.deliveryId)).map((e) => e.count)).toEqual([1]);
    expect((await header(order.deliveryId)).LastChangedByUser).not.toBe(before.LastChangedByUser);
  });

  it('when the ETag is stale again after the reread then the adapter gives up with ERP_PRECONDITION_FAILED', async () => {
    const order = one();
    sandbox.concurrentEdits(order.deliveryId, 2);
    const err = await rejection(
      erp.postGoodsIssue(order.deliveryId, `shipment-${order.deliveryId}:goods-issue`),
    );
    expect([err.code, err.retryable]).toEqual(['ERP_PRECONDITION_FAILED', true]);
    expect(await effectsOf(sandbox.url, 'goods_issue', order.deliveryId)).toEqual([]);
  });

  it('when the CSRF session expires then the adapter fetches a new token once and the write goes through', async () => {
    const order = one();
    await erp.postMilestone({
      deliveryId: order.deliveryId,
      milestone: 'dispatched',
      attempt: 1,
      occurredAt: '2026-12-01T13:00:00Z',
      idempotencyKey: `shipment-${order.deliveryId}:dispatched:1`,
    });
    sandbox.expireSessions();
    await erp.postMilestone({
      deliveryId: order.deliveryId,
      milestone: 'delivered',
      attempt: 1,
      occurredAt: '2026-12-01T15:00:00Z',
      idempotencyKey: `shipment-${order.deliveryId}:delivered:1`,
    });
    expect((await effectsOf(sandbox.url, 'milestone', order.deliveryId)).length).toBe(2);
  });

  it('when the fresh token is rejected as well then the adapter fails with ERP_CSRF_REJECTED', async () => {
    const order = one();
    sandbox.expireSessions(2);
    const err = await rejection(
      erp.postMilestone({
        deliveryId: order.deliveryId,
        milestone: 'dispatched',
        attempt: 1,
        occurredAt: '2026-12-01T13:00:00Z',
        idempotencyKey: `shipment-${order.deliveryId}:dispatched:1`,
      }),
    );
    expect([err.code, err.details.status]).toEqual(['ERP_CSRF_REJECTED', 403]);
    expect(await effectsOf(sandbox.url, 'milestone', order.deliveryId)).toEqual([]);
  });

  it('when the ERP is in an outage then calls fail with retryable ERP_UNAVAILABLE', async () => {
    const order = one();
    sandbox.faults.update({ outageUntilMs: Date.now() + 60_000 });
    const err = await rejection(erp.getDelivery(order.deliveryId));
    expect([err.code, err.retryable, err.details.status]).toEqual(['ERP_UNAVAILABLE', true, 503]);
    sandbox.faults.update({ outageUntilMs: 0 });
    expect((await erp.getDelivery(order.deliveryId)).deliveryId).toBe(order.deliveryId);
  });

  it('when the ERP is slower than the timeout then the call fails with ERP_UNAVAILABLE', async () => {
    const order = one();
    const impatient = createErpAdapter({ baseUrl: sandbox.url, timeoutMs: 100 });
    sandbox.faults.update({ latencyMs: 400 });
    expect((await rejection(impatient.getDelivery(order.deliveryId))).code).toBe('ERP_UNAVAILABLE');
  });

  it('when nothing listens at the ERP address then the call fails with ERP_UNAVAILABLE', async () => {
    const nowhere = createErpAdapter({ baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 1000 });
    expect((await rejection(nowhere.getDelivery('80000001'))).code).toBe('ERP_UNAVAILABLE');
  });

  it('when a 429 storm is on then calls fail with ERP_RATE_LIMITED and the wait Retry-After asked for', async () => {
    const order = one();
    sandbox.faults.update({ rateLimitStormUntilMs: Date.now() + 5_000 });
    const err = await rejection(
      erp.postGoodsIssue(order.deliveryId, `shipment-${order.deliveryId}:goods-issue`),
    );
    expect([err.code, err.retryable]).toEqual(['ERP_RATE_LIMITED', true]);
    expect(err.details.retryAfterMs).toBeGreaterThan(0);
    expect(err.details.retryAfterMs).toBeLessThanOrEqual(5_000);
  });

  it('when the ERP holds a malformed address then reading it fails with VALIDATION_FAILED naming the field', async () => {
    const order = sampleOrder({ deliveryId: '70000001' });
    sandbox.addDelivery({ order, overrides: { address: { PostalCode: 'ABCDE' } } });
    const err = await rejection(erp.getDelivery('70000001'));
    expect([err.code, err.details.field]).toEqual([
      'VALIDATION_FAILED',
      'to_DeliveryDocumentPartner/0/to_Address/PostalCode',
    ]);
  });
});

describe('listing released deliveries', () => {
  let sandbox: ErpSandbox;
  beforeAll(async () => {
    sandbox = await startErpSandbox({ port: await freePort(), seed: 5 });
  });
  afterAll(async () => sandbox.close());

  it('when 23 deliveries are released then pages of 10 return each once, in number order, as seeded', async () => {
    const seeded = sandbox.seed(23, { date: DATE });
    const erp = createErpAdapter({ baseUrl: sandbox.url });
    const seen: Order[] = [];
    const cursors: (string | undefined)[] = [];
    let cursor: string | undefined;
    do {
      const page = await erp.listReleasedDeliveries({ cursor, pageSize: 10 });
      seen.push(...page.orders);
      cursor = page.nextCursor;
      cursors.push(cursor);
    } while (cursor);
    expect(seen).toEqual(seeded);
    expect(cursors).toEqual([seeded[9]?.deliveryId, seeded[19]?.deliveryId, undefined]);
  });

  it('when one released delivery has bad data then the page skips it, names it and still returns the rest', async () => {
    const good = sandbox.seed(2, { date: DATE });
    sandbox.addDelivery({
      order: sampleOrder({ deliveryId: '90000001' }),
      overrides: { header: { YY1_DelivWindowStart_DLH: 'soon' } },
    });
    const erp = createErpAdapter({ baseUrl: sandbox.url });
    const last = good[0]?.deliveryId ?? '';
    const page = await erp.listReleasedDeliveries({ cursor: String(Number(last) - 1), pageSize: 100 });
    expect(page.orders.map((o) => o.deliveryId)).toEqual(good.map((o) => o.deliveryId));
    expect(page.rejected).toEqual([
      expect.objectContaining({ deliveryId: '90000001', field: 'YY1_DelivWindowStart_DLH' }),
    ]);
  });

  it('when the page size is out of range then the adapter refuses before calling the ERP', async () => {
    const erp = createErpAdapter({ baseUrl: sandbox.url });
    const err = await rejection(erp.listReleasedDeliveries({ pageSize: 0 }));
    expect([err.code, err.details.field]).toEqual(['VALIDATION_FAILED', 'pageSize']);
  });
});
